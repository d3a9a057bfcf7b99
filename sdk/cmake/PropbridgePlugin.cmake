# propbridge_add_plugin(<target> <sources>...)
# Builds a plugin the way the daemon loads it: a shared library on the SDK alone that exports
# exactly the two registration symbols of propbridge/sdk/register.h, the factory and the API
# version. Hidden visibility keeps the plugin's own code private; a linker version script hides
# what visibility cannot, the standard library's template statics (GNU unique symbols, which
# would also keep the library from ever being unloaded) and the vtables and type info of its
# classes.
function(propbridge_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE propbridge::sdk)
  set(version_script "${CMAKE_CURRENT_BINARY_DIR}/propbridge_plugin.map")
  file(CONFIGURE OUTPUT "${version_script}" CONTENT [[
{
  global:
    propbridge_create_plugin;
    propbridge_api_version;
  local:
    *;
};
]])
  target_link_options(${target} PRIVATE "LINKER:--version-script=${version_script}")
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${version_script}")
endfunction()
