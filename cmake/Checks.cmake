# The checked builds CI runs besides the ordinary one (scripts/check.sh):
#   PROPBRIDGE_SANITIZE   "address,undefined" or "thread": every target of the project built
#                         with those sanitizers; any report fails the run that finds it.
#   PROPBRIDGE_WERROR     warnings are errors in the project's own code.
#   PROPBRIDGE_FUZZ       the libFuzzer targets in fuzz/ (clang only).
# With clang, locking is checked by the compiler (-Wthread-safety) in every build.
set(PROPBRIDGE_SANITIZE "" CACHE STRING "sanitizers: address,undefined or thread")
option(PROPBRIDGE_WERROR "treat warnings in the project's code as errors" OFF)
option(PROPBRIDGE_FUZZ "build the libFuzzer targets (clang)" OFF)

if(PROPBRIDGE_SANITIZE)
  set(sanitize_flags -fsanitize=${PROPBRIDGE_SANITIZE} -fno-omit-frame-pointer)
  if(PROPBRIDGE_SANITIZE MATCHES "undefined")
    # A report is a failure, not a line to miss in a log.
    list(APPEND sanitize_flags -fno-sanitize-recover=all)
  endif()
  add_compile_options(${sanitize_flags})
  add_link_options(${sanitize_flags})
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-Wthread-safety)
  if(PROPBRIDGE_WERROR)
    add_compile_options(-Werror=thread-safety)
  endif()
endif()

if(PROPBRIDGE_WERROR)
  add_compile_options(-Werror)
endif()

if(PROPBRIDGE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PROPBRIDGE_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # libFuzzer's coverage in all the code a fuzz target reaches; only the targets in fuzz/ link
  # the fuzzer itself (-fsanitize=fuzzer), the other executables its no-op hooks.
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()
