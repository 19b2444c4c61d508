# ctest install_tree: installs the build into a fresh prefix, then builds and runs a program
# (this directory's CMakeLists.txt and consumer.cpp) against that prefix alone -- its headers,
# its libraries (static and shared) and its CMake package -- and checks that the installed CLI
# finds the TorchScript plugin in the install tree. Run with cmake -P and:
#   BUILD_DIR     the build tree to install
#   SOURCE_DIR    the repository, which the consumer must not reach
#   WORK_DIR      scratch directory (emptied first): prefix/ and consumer/ go there
#   GENERATOR     CMake generator for the consumer
#   MODEL         optional one-input ONNX model for the consumer to run
#   TORCHSCRIPT   ON when the build has the TorchScript plugin
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${command} failed (${status}):\n${out}\n${err}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(consumer ${WORK_DIR}/consumer)
file(REMOVE_RECURSE ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${consumer} -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix})

# Only the install tree: no include path of the consumer may point into the repository.
file(READ ${consumer}/compile_commands.json commands)
foreach(dir ${SOURCE_DIR}/src ${SOURCE_DIR}/include)
  string(FIND "${commands}" "${dir}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the consumer compiles with ${dir}:\n${commands}")
  endif()
endforeach()

run(${CMAKE_COMMAND} --build ${consumer})
foreach(program consumer consumer_shared)
  if(MODEL AND EXISTS ${MODEL})
    run(${consumer}/${program} ${MODEL})
  else()
    run(${consumer}/${program})
  endif()
  message(STATUS "${program}: ${output}")
endforeach()
# The shared one loads the installed libamphora.so (the build tree's rpath points there).
run(ldd ${consumer}/consumer_shared)
if(NOT output MATCHES "libamphora\\.so\\.[0-9]+ => ${prefix}/")
  message(FATAL_ERROR "consumer_shared does not load the installed libamphora.so:\n${output}")
endif()

if(TORCHSCRIPT)
  file(GLOB plugin ${prefix}/*/libamphora_torchscript.so ${prefix}/*/*/libamphora_torchscript.so)
  run(${prefix}/bin/amphora run --help)
  if(NOT plugin OR output MATCHES "built without LibTorch")
    message(FATAL_ERROR "the installed CLI does not find the installed plugin (${plugin}):\n${output}")
  endif()
endif()
