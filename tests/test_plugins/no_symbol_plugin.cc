// A shared library that is not a propbridge plugin: it exports no registration symbols.
extern "C" __attribute__((visibility("default"))) int unrelated_function() { return 42; }
