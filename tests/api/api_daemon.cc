#include "tests/api/api_daemon.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel_posix.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace propbridge::testing {
namespace {

using namespace std::chrono_literals;

}  // namespace

std::unique_ptr<ApiDaemon> ApiDaemon::Start(const TempDir& dir, const std::string& tables) {
  const std::string config =
      "listen = \"127.0.0.1:0\"\ndata_dir = \"" + (dir / "data").string() + "\"\n" + tables;
  std::string error;
  auto process = DaemonProcess::Start(dir.path(), config, dir / "data", error);
  EXPECT_TRUE(process) << error;
  if (!process) return nullptr;
  return std::unique_ptr<ApiDaemon>(new ApiDaemon(std::move(process)));
}

ApiDaemon::ApiDaemon(std::unique_ptr<DaemonProcess> process)
    : process_(std::move(process)),
      stub_(v1::TimelineService::NewStub(ChannelTo(process_->address()))) {}

std::unique_ptr<v1::TimelineService::Stub> ApiDaemon::OwnStub() const {
  return v1::TimelineService::NewStub(ChannelTo(process_->address(), /*own=*/true));
}

std::shared_ptr<grpc::Channel> ApiDaemon::ChannelFrom(const std::string& source) const {
  // The daemon's address is 127.0.0.1:<port>.
  const std::string& address = process_->address();
  const std::size_t colon = address.rfind(':');
  sockaddr_in local{};
  local.sin_family = AF_INET;
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &remote.sin_addr) != 1) {
    ADD_FAILURE() << "not IPv4 addresses: " << source << ", " << address;
    return nullptr;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    ADD_FAILURE() << "cannot connect from " << source << " to " << address << ": "
                  << std::strerror(errno);
    if (fd >= 0) close(fd);
    return nullptr;
  }
  return grpc::CreateInsecureChannelFromFd(address, fd);  // the channel owns the socket
}

std::vector<v1::TimelineEvent> ApiDaemon::ReadPages(v1::GetTimelineRequest request) {
  std::vector<v1::TimelineEvent> events;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetTimelineResponse response;
    grpc::Status status = stub_->GetTimeline(&context, request, &response);
    if (!status.ok()) {
      ADD_FAILURE() << "GetTimeline: " << status.error_message();
      break;
    }
    events.insert(events.end(), response.events().begin(), response.events().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return events;
}

std::vector<v1::TimelineEvent> ApiDaemon::WaitForCount(const std::string& customer,
                                                       std::size_t count) {
  auto events = WaitForEvents(*process_, customer, count, 60s);
  EXPECT_GE(events.size(), count) << "the plugin did not deliver in time";
  return events;
}

std::int64_t ApiDaemon::NewestId(const std::string& customer) {
  v1::GetTimelineRequest request;
  request.set_customer(customer);
  request.set_page_size(1);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::GetTimelineResponse response;
  grpc::Status status = stub_->GetTimeline(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return 0;
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.events().empty() ? 0 : response.events(0).id();
}

}  // namespace propbridge::testing
