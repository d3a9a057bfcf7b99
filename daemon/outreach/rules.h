// When a customer needs a contact: the thresholds of the outreach list, which the
// configuration reads from [outreach] and the outreach policy (daemon/customers/outreach.h)
// applies. Plain data.
#pragma once

#include <chrono>

namespace propbridge::outreach {

struct Rules {
  std::chrono::hours complaint_sla{24};       // a complaint open longer is past its SLA
  std::chrono::days new_occupant_window{30};  // moved in this recently: wants a proactive welcome
  std::chrono::days quiet_period{90};         // no proactive contact for this long
};

}  // namespace propbridge::outreach
