// A customer as clients name it: "customer:<id>", or any identifier in any accepted form,
// "<type>:<value>" ("account:A-1001", "phone:+86 138 0013 8000", "unit:阳光花园/3栋2单元1202室").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/identity/identifier.h"
#include "daemon/store/event.h"
#include "daemon/store/store.h"
#include "propbridge/sdk/status.h"

namespace propbridge::api {

// The identifier in canonical form; a unit's community goes before a '/'. kInvalidArgument,
// naming `field`, for text that is not "<type>:<value>" or a value that cannot be read.
Result<identity::Identifier> ParseCustomerRef(std::string_view text, std::string_view field,
                                              const identity::IdentityRules& rules);

// The customer `text` names now (a unit: its occupant at `at`, now by default). kNotFound when
// none does.
Result<std::int64_t> ResolveCustomerRef(store::Store& store, std::string_view text,
                                        std::string_view field,
                                        const identity::IdentityRules& rules,
                                        std::optional<store::Micros> at = {});

}  // namespace propbridge::api
