# One helper for every gtest binary so labels, seeds and discovery are set in one place.
if(NVFP4_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(rapidcheck CONFIG REQUIRED)   # Debian targets are not namespaced: rapidcheck, rapidcheck_gtest
  include(GoogleTest)
endif()

# RapidCheck is pinned so CI is deterministic; a failure prints RC_PARAMS="reproduce=..." to replay it.
set(NVFP4_RC_PARAMS "seed=20261122 max_success=100 max_size=100" CACHE STRING "default RC_PARAMS for properties")
set(NVFP4_GOLDEN_DIR ${CMAKE_BINARY_DIR}/golden)

# nvfp4_add_gtest(NAME name SOURCES ... LIBS ... LABELS ... [FIXTURES f] [TIMEOUT s])
function(nvfp4_add_gtest)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;FIXTURES" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${T_NAME} ${T_SOURCES} ${PROJECT_SOURCE_DIR}/cmake/test_main.cpp)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest)
  target_compile_definitions(${T_NAME} PRIVATE
    NVFP4_RC_PARAMS="${NVFP4_RC_PARAMS}" NVFP4_GOLDEN_DIR="${NVFP4_GOLDEN_DIR}" NVFP4_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(fixture_props)
  if(T_FIXTURES)
    set(fixture_props FIXTURES_REQUIRED ${T_FIXTURES})
  endif()
  gtest_discover_tests(${T_NAME}
    TEST_PREFIX "${T_NAME}."
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ${fixture_props})
endfunction()
