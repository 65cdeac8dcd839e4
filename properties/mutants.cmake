# Historic-bug mutants (optimized/mutants.h): for each, the optimized pipeline's mutable files are
# compiled with -DNVFP4_MUTANT=<id> into their own library, the properties are linked against it,
# and a ctest (label `mutants`) passes only if the property meant to catch that bug fails on it.
# id  property that must fail
set(NVFP4_HISTORIC_MUTANTS
  "1 PipelinesProps.AgreeBitwiseThroughReloadSequences"
  "2 PipelinesProps.AgreeBitwiseThroughReloadSequences"
  "3 PipelinesProps.AgreeBitwiseThroughReloadSequences"
  "4 OptimizedLayoutProps.AliasExactlyWhenBroadcastableAndDtypeEqual"
  "5 OptimizedLayoutProps.PreallocatedMoeShuffleEqualsListAndStack"
  "6 PipelinesProps.AgreeBitwiseThroughReloadSequences"
  "7 PipelinesProps.AgreeBitwiseThroughReloadSequences")
foreach(entry IN LISTS NVFP4_HISTORIC_MUTANTS)
  string(REPLACE " " ";" entry "${entry}")
  list(GET entry 0 id)
  list(GET entry 1 prop)
  add_library(nvfp4_optimized_m${id} STATIC ${NVFP4_OPTIMIZED_MUTABLE})
  target_link_libraries(nvfp4_optimized_m${id} PUBLIC nvfp4_optimized_fixed)
  target_compile_definitions(nvfp4_optimized_m${id} PRIVATE NVFP4_MUTANT=${id})
  add_library(nvfp4_registry_m${id} STATIC ${PROJECT_SOURCE_DIR}/registry/registry.cpp)
  target_link_libraries(nvfp4_registry_m${id} PUBLIC nvfp4_reference nvfp4_optimized_m${id})
  add_executable(props_pipelines_m${id} $<TARGET_OBJECTS:nvfp4_props_pipelines_objs> ${PROJECT_SOURCE_DIR}/cmake/test_main.cpp)
  target_link_libraries(props_pipelines_m${id} PRIVATE nvfp4_registry_m${id} nvfp4_checks nvfp4_generators rapidcheck_gtest rapidcheck GTest::gtest)
  target_compile_definitions(props_pipelines_m${id} PRIVATE NVFP4_RC_PARAMS="${NVFP4_RC_PARAMS}")
  add_test(NAME mutant.${id}.${prop} COMMAND props_pipelines_m${id} --gtest_filter=${prop})
  set_tests_properties(mutant.${id}.${prop} PROPERTIES LABELS mutants WILL_FAIL TRUE TIMEOUT 600)
endforeach()
