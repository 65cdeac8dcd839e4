# Whether to build the Python package's extension module (python/, nanobind), and what that needs.
# On by default when NVFP4_PYTHON can import nanobind, and always under scikit-build-core
# (`pip install ./python`, which sets SKBUILD).
if(NOT DEFINED NVFP4_PYTHON_MODULE)
  set(_nvfp4_py_default OFF)
  if(SKBUILD)
    set(_nvfp4_py_default ON)
  elseif(EXISTS "${NVFP4_PYTHON}")
    execute_process(COMMAND "${NVFP4_PYTHON}" -c "import nanobind" RESULT_VARIABLE _nvfp4_nb_rc OUTPUT_QUIET ERROR_QUIET)
    if(_nvfp4_nb_rc EQUAL 0)
      set(_nvfp4_py_default ON)
    endif()
  endif()
endif()
option(NVFP4_PYTHON_MODULE "build the Python package's extension (python/, nanobind)" ${_nvfp4_py_default})

# The extension links the project's static libraries into a shared object, so `target` and every
# project library it links are compiled position-independent (executables and tests keep their
# flags, and so their compiler cache).
function(nvfp4_position_independent target)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(imported ${target} IMPORTED)
  get_target_property(type ${target} TYPE)
  get_target_property(done ${target} POSITION_INDEPENDENT_CODE)
  if(imported OR done OR type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  get_target_property(libs ${target} LINK_LIBRARIES)
  foreach(lib IN LISTS libs)
    nvfp4_position_independent(${lib})
  endforeach()
endfunction()
