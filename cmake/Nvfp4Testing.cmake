# One helper for every gtest binary so labels, seeds and discovery are set in one place.
if(NVFP4_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(rapidcheck CONFIG REQUIRED)   # Debian targets are not namespaced: rapidcheck, rapidcheck_gtest
  include(GoogleTest)
endif()

# RapidCheck is pinned so CI is deterministic; a failure prints RC_PARAMS="reproduce=..." to replay it.
set(NVFP4_RC_PARAMS "seed=20261122 max_success=100 max_size=100" CACHE STRING "RC_PARAMS for properties")

# nvfp4_add_gtest(NAME name SOURCES ... LIBS ... LABELS ... [ENVIRONMENT ...])
function(nvfp4_add_gtest)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    TEST_PREFIX "${T_NAME}."
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
               ENVIRONMENT "RC_PARAMS=${NVFP4_RC_PARAMS};NVFP4_SOURCE_DIR=${CMAKE_SOURCE_DIR};NVFP4_PYTHON=${NVFP4_PYTHON};${T_ENVIRONMENT}")
endfunction()
