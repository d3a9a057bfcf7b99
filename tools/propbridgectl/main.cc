// propbridgectl: reads propbridged over gRPC from the command line.
#include <grpcpp/grpcpp.h>

#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "propbridge/v1/timeline.grpc.pb.h"

namespace {

namespace v1 = propbridge::v1;

constexpr const char* kUsage =
    R"(Usage: propbridgectl [--address HOST:PORT] timeline CUSTOMER [--all] [--page-size N]

Commands:
  timeline CUSTOMER   a customer's timeline, newest first, with the five steps
                      (CUSTOMER is a key such as account:A-1001)

Options:
  --address HOST:PORT  the daemon (default 127.0.0.1:50051)
  --page-size N        events per page (default 50, at most 1000)
  --all                read every page, not just the first

Exit codes: 0 ok, 1 the daemon answered with an error, 2 bad usage, 3 daemon unreachable.
)";

constexpr const char* kStepNames[] = {"?", "KNOW", "UNDERSTAND", "HELP", "EMPATHIZE", "DELIGHT"};

std::string LocalTime(const google::protobuf::Timestamp& t) {
  std::time_t seconds = t.seconds();
  std::tm tm{};
  localtime_r(&seconds, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%Y-%m-%d %H:%M");
  return out.str();
}

int Fail(const grpc::Status& status, const std::string& address) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::cerr << "propbridgectl: cannot reach propbridged at " << address << ": "
              << status.error_message() << "\n";
    return 3;
  }
  std::cerr << "propbridgectl: " << status.error_message() << "\n";
  return 1;
}

int Timeline(const std::string& address, const std::string& customer, int page_size, bool all) {
  auto stub = v1::TimelineService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::GetTimelineRequest request;
  request.set_customer(customer);
  request.set_page_size(page_size);
  std::vector<v1::TimelineEvent> events;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTimelineResponse response;
    grpc::Status status = stub->GetTimeline(&context, request, &response);
    if (!status.ok()) return Fail(status, address);
    events.insert(events.end(), response.events().begin(), response.events().end());
    request.set_page_token(response.next_page_token());
  } while (all && !request.page_token().empty());

  std::map<int, int> per_step;
  int proactive = 0;
  std::cout << "Timeline of " << customer << " (newest first)\n\n";
  std::cout << std::left << std::setw(18) << "WHEN" << std::setw(12) << "STEP" << std::setw(11)
            << "WHO"
            << "WHAT\n";
  for (const auto& e : events) {
    per_step[e.step()]++;
    if (e.initiative() == v1::INITIATIVE_PROACTIVE) proactive++;
    std::cout << std::setw(18) << LocalTime(e.occurred_at()) << std::setw(12)
              << kStepNames[e.step()] << std::setw(11)
              << (e.initiative() == v1::INITIATIVE_PROACTIVE ? "proactive" : "reactive")
              << e.summary() << "\n";
  }
  std::cout << "\nFive steps:";
  for (int step = 1; step <= 5; ++step)
    std::cout << "  " << kStepNames[step] << " " << per_step[step];
  std::cout << "\nProactive: " << proactive << " of " << events.size() << " events";
  if (!request.page_token().empty()) std::cout << " (first page only; --all reads every page)";
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051";
  int page_size = 0;
  bool all = false;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--address" && i + 1 < argc) {
      address = argv[++i];
    } else if (arg == "--page-size" && i + 1 < argc) {
      page_size = std::atoi(argv[++i]);
    } else if (arg == "--all") {
      all = true;
    } else if (arg.starts_with("--")) {
      std::cerr << "propbridgectl: unknown option " << arg << "\n\n" << kUsage;
      return 2;
    } else {
      words.push_back(arg);
    }
  }
  if (words.size() == 2 && words[0] == "timeline") {
    return Timeline(address, words[1], page_size, all);
  }
  std::cerr << kUsage;
  return 2;
}
