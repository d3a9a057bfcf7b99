// A source of some part that includes the store's interface: see CMakeLists.txt.
#include "daemon/store/store.h"

static_assert(sizeof(propbridge::store::Event) > 0);
