# What each library may reach. The pipelines share no transform of derived data: neither links the
# generator (its encoders and ModelOpt quantizer write files; the pipelines carry their own
# conversions, so that their agreement means something), and neither links the other. core, which
# both share, reaches none of them. Checked at configure time over each target's whole link closure;
# the includes are checked by the ctest `layering.includes` (cmake/check_layering.cmake), since the
# generator's inline encoders would compile into a pipeline without any link.

# Every target `target` links, directly or through others, into `out`.
function(nvfp4_link_closure target out)
  set(seen)
  set(todo ${target})
  while(todo)
    list(POP_FRONT todo t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(aliased ${t} ALIASED_TARGET)
    if(aliased)
      list(APPEND todo ${aliased})
      continue()
    endif()
    set(libs)
    get_target_property(imported ${t} IMPORTED)
    if(NOT imported)
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND libs ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND libs ${iface})
    endif()
    foreach(lib IN LISTS libs)
      # CMake records a link made from another directory between "::@(id)" and "::@" markers, and
      # a static library's private links as $<LINK_ONLY:name>.
      if(lib MATCHES "^::@")
        continue()
      elseif(lib MATCHES "^\\$<LINK_ONLY:([^>]+)>$")
        set(lib "${CMAKE_MATCH_1}")
      endif()
      list(APPEND todo ${lib})
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# nvfp4_forbid_links(TARGET t NOT a b ...): configure fails if t reaches any of a, b, ...
function(nvfp4_forbid_links)
  cmake_parse_arguments(F "" "TARGET" "NOT" ${ARGN})
  nvfp4_link_closure(${F_TARGET} reached)
  foreach(bad IN LISTS F_NOT)
    if(bad IN_LIST reached)
      list(JOIN reached ", " path)
      message(FATAL_ERROR "${F_TARGET} links ${bad} (cmake/Nvfp4Layering.cmake); its link closure: ${path}")
    endif()
  endforeach()
endfunction()

nvfp4_forbid_links(TARGET nvfp4_core NOT nvfp4_generator nvfp4_reference nvfp4_optimized_fixed nvfp4_inspect)
nvfp4_forbid_links(TARGET nvfp4_reference NOT nvfp4_generator nvfp4_optimized_fixed)
nvfp4_forbid_links(TARGET nvfp4_optimized NOT nvfp4_generator nvfp4_reference)
nvfp4_forbid_links(TARGET nvfp4_optimized_fixed NOT nvfp4_generator nvfp4_reference)

if(NVFP4_BUILD_TESTS)
  add_test(NAME layering.includes
    COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/check_layering.cmake)
  set_tests_properties(layering.includes PROPERTIES LABELS unit)
endif()
