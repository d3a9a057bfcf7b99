# Per-target include paths, so that the build itself refuses an include across layers: a target
# can include a header of the project only if it links the library that owns it, directly or
# through PUBLIC and INTERFACE links (tests/layers proves it).
#
# Sources spell every include from the project's root: "daemon/store/store.h". What makes that
# resolve is a root per target in the build tree that holds only what the target exports:
# include/propbridge_store/daemon/store is a symbolic link to the source folder daemon/store, so
# no header is ever copied or stale. A configure run makes each root afresh. Generated headers
# get a root of their own beside it (propbridge_generated_folder).

# propbridge_export_headers(<target> <path>...)
# Makes each <path>, a folder or a single header relative to the project's root, includable
# under its own name by <target> and, for a library, by everything that links it. A library
# exports its folder; where a folder holds more than one library, or tests besides one, each
# library exports its own headers.
function(propbridge_export_headers target)
  set(root "${PROJECT_BINARY_DIR}/include/${target}")
  get_property(made GLOBAL PROPERTY PROPBRIDGE_INCLUDE_ROOTS)
  if(NOT target IN_LIST made)
    file(REMOVE_RECURSE "${root}")  # removes the links, never what they point to
    set_property(GLOBAL APPEND PROPERTY PROPBRIDGE_INCLUDE_ROOTS ${target})
  endif()
  foreach(path IN LISTS ARGN)
    if(IS_ABSOLUTE "${path}" OR path MATCHES "^\\.\\./"
       OR NOT EXISTS "${PROJECT_SOURCE_DIR}/${path}")
      message(FATAL_ERROR "propbridge_export_headers(${target}): the project has no ${path}")
    endif()
    # A folder below one already linked would be made inside the source tree.
    set(folder "${root}")
    cmake_path(GET path PARENT_PATH parent)
    string(REPLACE "/" ";" parts "${parent}")
    foreach(part IN LISTS parts)
      string(APPEND folder "/${part}")
      if(IS_SYMLINK "${folder}")
        message(FATAL_ERROR "propbridge_export_headers(${target}): ${path} is inside a folder "
                            "it exports already")
      endif()
    endforeach()
    file(MAKE_DIRECTORY "${root}/${parent}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/${path}" "${root}/${path}" SYMBOLIC)
  endforeach()
  _propbridge_include_root(${target} "${root}")
endfunction()

# propbridge_export_source_folders(<target>)
# A test or a fuzzer sees the folders its own sources are in (its own, and those of a plugin's
# sources it compiles in), besides what it links.
function(propbridge_export_source_folders target)
  get_target_property(sources ${target} SOURCES)
  get_target_property(base ${target} SOURCE_DIR)
  set(folders "")
  foreach(source IN LISTS sources)
    cmake_path(ABSOLUTE_PATH source BASE_DIRECTORY "${base}" NORMALIZE)
    cmake_path(GET source PARENT_PATH folder)
    cmake_path(RELATIVE_PATH folder BASE_DIRECTORY "${PROJECT_SOURCE_DIR}")
    list(APPEND folders "${folder}")
  endforeach()
  list(REMOVE_DUPLICATES folders)
  propbridge_export_headers(${target} ${folders})
endfunction()

# propbridge_generated_folder(<target> <folder> <out-var>)
# Sets <out-var> to the folder where <target> generates the headers it exports as "<folder>/x.h":
# generated/<target>/<folder> in the build tree, whose root only <target> exports.
function(propbridge_generated_folder target folder out_var)
  set(root "${PROJECT_BINARY_DIR}/generated/${target}")
  file(MAKE_DIRECTORY "${root}/${folder}")
  _propbridge_include_root(${target} "${root}")
  set(${out_var} "${root}/${folder}" PARENT_SCOPE)
endfunction()

# A library exports a root to its linkers and itself; an executable only sees it.
function(_propbridge_include_root target root)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE "${root}")
  elseif(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE "${root}")
  else()
    target_include_directories(${target} PUBLIC "${root}")
  endif()
endfunction()
