// Everything a plugin includes: #include <propbridge/sdk/sdk.h>
#pragma once

#include "propbridge/sdk/context.h"
#include "propbridge/sdk/event.h"
#include "propbridge/sdk/plugin.h"
#include "propbridge/sdk/polling_plugin.h"
#include "propbridge/sdk/register.h"
#include "propbridge/sdk/settings.h"
#include "propbridge/sdk/status.h"
#include "propbridge/sdk/time.h"
#include "propbridge/sdk/version.h"
