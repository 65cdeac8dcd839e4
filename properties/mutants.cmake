# Historic-bug mutants (listed once, in mutants/historic.tsv; switched in by optimized/mutants.h):
# for each row, the optimized pipeline's mutable files are compiled with -DNVFP4_MUTANT=<id> into
# their own library, the properties are linked against it, and a ctest (label `mutants`) passes only
# if the property meant to catch that bug fails on it.
set(NVFP4_HISTORIC_TSV ${PROJECT_SOURCE_DIR}/mutants/historic.tsv)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NVFP4_HISTORIC_TSV})
file(STRINGS ${NVFP4_HISTORIC_TSV} NVFP4_HISTORIC_ROWS REGEX "^[^#]")
list(POP_FRONT NVFP4_HISTORIC_ROWS NVFP4_HISTORIC_HEADER)
if(NOT NVFP4_HISTORIC_HEADER MATCHES "^id\tproperty\t")
  message(FATAL_ERROR "${NVFP4_HISTORIC_TSV}: the first row must be the header (id, property, ...)")
endif()
foreach(row IN LISTS NVFP4_HISTORIC_ROWS)
  # Only the first two columns are read here; a regex, not a list split, so that the text columns
  # may hold anything but a tab.
  if(NOT row MATCHES "^([0-9]+)\t([A-Za-z0-9_]+\\.[A-Za-z0-9_]+)\t")
    message(FATAL_ERROR "${NVFP4_HISTORIC_TSV}: not `id<TAB>Suite.Property<TAB>...`: ${row}")
  endif()
  set(id ${CMAKE_MATCH_1})
  set(prop ${CMAKE_MATCH_2})
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

# README.md's table of these mutants and its mutant counts are generated (mutants/historic_table.py);
# this fails when they have drifted from the lists they come from.
add_test(NAME mutants_readme_tables
  COMMAND ${NVFP4_PYTHON} ${PROJECT_SOURCE_DIR}/mutants/historic_table.py --check)
set_tests_properties(mutants_readme_tables PROPERTIES LABELS unit)
