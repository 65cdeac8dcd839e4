# `cmake --install`: the nvfp4 command, the libraries with their headers, and a CMake package, so
# another project can find_package(nvfp4) and link nvfp4::reference (the oracle) and
# nvfp4::optimized (the production-style pipeline), nvfp4::checks (what "holds" means: agreement,
# reloads, the memory contract, GEMMs against the exact oracle, reconciles), and nvfp4::generator
# to write synthetic checkpoints for them. Headers keep their paths under
# include/nvfp4/, so "core/tensor.h" works the same inside and outside this tree.
include(CMakePackageConfigHelpers)

set_target_properties(nvfp4_core PROPERTIES EXPORT_NAME core)
set_target_properties(nvfp4_generator PROPERTIES EXPORT_NAME generator)
set_target_properties(nvfp4_reference PROPERTIES EXPORT_NAME reference)
set_target_properties(nvfp4_optimized PROPERTIES EXPORT_NAME optimized)
set_target_properties(nvfp4_optimized_fixed PROPERTIES EXPORT_NAME optimized_kernels)
set_target_properties(nvfp4_registry PROPERTIES EXPORT_NAME registry)
set_target_properties(nvfp4_checks PROPERTIES EXPORT_NAME checks)
set_target_properties(nvfp4_checks_state PROPERTIES EXPORT_NAME checks_state)

install(TARGETS nvfp4 RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nvfp4_core nvfp4_generator nvfp4_reference nvfp4_optimized nvfp4_optimized_fixed nvfp4_checks_state nvfp4_checks nvfp4_registry
  EXPORT nvfp4Targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  OBJECTS DESTINATION ${CMAKE_INSTALL_LIBDIR}/nvfp4-objects)
install(DIRECTORY core generator reference optimized checks registry
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nvfp4
  FILES_MATCHING PATTERN "*.h"
  PATTERN "test" EXCLUDE)
install(EXPORT nvfp4Targets NAMESPACE nvfp4:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nvfp4)
configure_package_config_file(cmake/nvfp4Config.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/nvfp4Config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nvfp4)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/nvfp4ConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/nvfp4Config.cmake ${CMAKE_CURRENT_BINARY_DIR}/nvfp4ConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nvfp4)
