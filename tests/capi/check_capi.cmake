# ctest capi_c_program: installs the build into a fresh prefix, then compiles test_capi.c with
# the system's C compiler and the flags that pkg-config reads from the installed amphora.pc --
# nothing from the repository or the build tree -- and runs it on two small random-init packages
# written by the exporter (a HiFi-GAN vocoder and a FastSpeech2 voice with the same mel settings).
# Also compiles amphora.h as C++, which it promises. Run with cmake -P and:
#   BUILD_DIR    the build tree to install
#   SOURCE_DIR   the repository (for scripts/bin/amphora-export), which the program must not reach
#   WORK_DIR     scratch directory (emptied first): prefix/, packages/, test_capi go there
#   PKG_CONFIG   the pkg-config executable
# Without the exporter's Python environment the program runs only the calls that need no model,
# and the test reports itself skipped ("packages unavailable").
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "${command} failed (${status}):\n${out}\n${err}")
  endif()
  string(STRIP "${out}" out)
  set(output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(packages ${WORK_DIR}/packages)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${packages})

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
file(GLOB_RECURSE pc_file ${prefix}/*/amphora.pc)
if(NOT pc_file)
  message(FATAL_ERROR "no amphora.pc under ${prefix}")
endif()
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
run(${PKG_CONFIG} --cflags amphora)
separate_arguments(cflags UNIX_COMMAND "${output}")
run(${PKG_CONFIG} --libs amphora)
separate_arguments(libs UNIX_COMMAND "${output}")
run(${PKG_CONFIG} --variable=libdir amphora)
set(libdir ${output})
run(${PKG_CONFIG} --modversion amphora)
set(version ${output})
foreach(flag ${cflags} ${libs})
  if(flag MATCHES "^-[IL](.*)" AND NOT CMAKE_MATCH_1 MATCHES "^${prefix}")
    message(FATAL_ERROR "amphora.pc points outside the install prefix: ${flag}")
  endif()
endforeach()

find_program(CC NAMES cc gcc clang REQUIRED)
find_program(CXX NAMES c++ g++ clang++ REQUIRED)
# The header as C++ too, strictly.
file(WRITE ${WORK_DIR}/header_as_cxx.cpp "#include <amphora/amphora.h>\nint main() { return amphora_abi_version() == AMPHORA_ABI_VERSION ? 0 : 1; }\n")
run(${CXX} -std=c++11 -Wall -Wextra -Werror -pedantic ${cflags} ${WORK_DIR}/header_as_cxx.cpp
    ${libs} -Wl,-rpath,${libdir} -o ${WORK_DIR}/header_as_cxx)
run(${WORK_DIR}/header_as_cxx)
# -lm for fabsf/isfinite; the rpath so that the installed libamphora.so is the one loaded.
run(${CC} -std=c99 -Wall -Wextra -Werror -pedantic ${cflags} "-DAMPHORA_EXPECTED_VERSION=\"${version}\""
    ${CMAKE_CURRENT_LIST_DIR}/test_capi.c ${libs} -lm -Wl,-rpath,${libdir} -o ${WORK_DIR}/test_capi)
run(ldd ${WORK_DIR}/test_capi)
if(NOT output MATCHES "libamphora\\.so\\.[0-9]+ => ${libdir}/")
  message(FATAL_ERROR "test_capi does not load the installed libamphora.so:\n${output}")
endif()

set(exporter ${SOURCE_DIR}/scripts/bin/amphora-export)
execute_process(
  COMMAND ${exporter} vocoder --family hifigan --random-init --seed 0 --formats onnx
          --output ${packages}/hifigan
  RESULT_VARIABLE vocoder_status OUTPUT_VARIABLE export_out ERROR_VARIABLE export_err)
if(vocoder_status EQUAL 0)
  execute_process(
    COMMAND ${exporter} acoustic --family fastspeech2 --random-init --seed 3 --formats onnx
            --output ${packages}/fastspeech2
    RESULT_VARIABLE acoustic_status OUTPUT_VARIABLE export_out ERROR_VARIABLE export_err)
endif()
if(vocoder_status EQUAL 0 AND acoustic_status EQUAL 0)
  run(${WORK_DIR}/test_capi ${WORK_DIR} ${packages}/hifigan ${packages}/fastspeech2)
  message(STATUS "${output}")
elseif(EXISTS ${SOURCE_DIR}/.venv/bin/python)
  message(FATAL_ERROR "amphora-export failed:\n${export_out}\n${export_err}")
else()
  run(${WORK_DIR}/test_capi ${WORK_DIR})
  message(STATUS "${output}\npackages unavailable: no Python environment for amphora-export "
                 "(scripts/setup.sh); the calls that need a model did not run")
endif()
