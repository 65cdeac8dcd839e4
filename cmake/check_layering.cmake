# ctest layering.includes: the library sources of core/, reference/ and optimized/ (their test/
# directories aside) include nothing from the directories they must not reach (the link rules:
# cmake/Nvfp4Layering.cmake).
#   cmake -DSOURCE_DIR=<tree> -P cmake/check_layering.cmake
set(rules
  "core:generator|tools|reference|optimized|registry|properties"
  "reference:generator|tools|optimized|registry|properties"
  "optimized:generator|tools|reference|registry|properties")
set(bad)
foreach(rule IN LISTS rules)
  string(REPLACE ":" ";" rule "${rule}")
  list(GET rule 0 dir)
  list(GET rule 1 forbidden)
  file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${dir}/*.h ${SOURCE_DIR}/${dir}/*.cpp)
  list(LENGTH sources n)
  if(n EQUAL 0)
    message(FATAL_ERROR "no sources under ${SOURCE_DIR}/${dir}")
  endif()
  foreach(f IN LISTS sources)
    if(f MATCHES "^${dir}/(.*/)?test/")
      continue()
    endif()
    file(STRINGS ${SOURCE_DIR}/${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<](${forbidden})/")
    foreach(h IN LISTS hits)
      list(APPEND bad "${f}: ${h}")
    endforeach()
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "includes across the layering (cmake/Nvfp4Layering.cmake):\n  ${text}")
endif()
message(STATUS "core/, reference/ and optimized/ include only what they may")
