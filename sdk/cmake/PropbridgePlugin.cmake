# propbridge_add_plugin(<target> <sources>...)
# Builds a plugin the way the daemon loads it: a shared library on the SDK alone, with hidden
# visibility so that only the two registration symbols are exported.
function(propbridge_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE propbridge::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
