// A stand-in for the home-service platform's order API, serving the bundled sample orders on
// loopback for the README's demo:
//   propbridge_homeservice_sample_api [--port N] [--token T] [--orders FILE]
// prints "listening on 127.0.0.1:<port>" once it serves, and runs until SIGINT or SIGTERM.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "vendor_api_server.h"

namespace {

using propbridge::homeservice::sample::LoadChangeLog;
using propbridge::homeservice::sample::VendorApiServer;

int Usage() {
  std::cerr << "usage: propbridge_homeservice_sample_api [--port N] [--token T] [--orders FILE]\n"
               "  --port    port on 127.0.0.1 (default 0: any free port)\n"
               "  --token   the bearer token requests must carry (default demo-token)\n"
               "  --orders  a JSON array of order revisions (default: the bundled sample)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string token = "demo-token";
  std::string orders = HOMESERVICE_SAMPLE_ORDERS;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 == argc) return Usage();
    std::string value = argv[++i];
    if (flag == "--port") {
      char* end = nullptr;
      long parsed = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || parsed < 0 || parsed > 65535) return Usage();
      port = static_cast<int>(parsed);
    } else if (flag == "--token") {
      token = value;
    } else if (flag == "--orders") {
      orders = value;
    } else {
      return Usage();
    }
  }

  std::string error;
  auto log = LoadChangeLog(orders, error);
  if (!log) {
    std::cerr << error << "\n";
    return 1;
  }
  // Block the signals before any thread starts, so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = VendorApiServer::Start(token, port, error);
  if (!server) {
    std::cerr << error << "\n";
    return 1;
  }
  server->Append(std::move(*log));
  std::cout << "listening on 127.0.0.1:" << server->port() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  return 0;
}
