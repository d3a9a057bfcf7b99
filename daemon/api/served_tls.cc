#include "daemon/api/served_tls.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/store/private_file.h"

namespace propbridge::api {
namespace {

namespace fs = std::filesystem;

// Replaces `file` with `text` whole: written and synced under a temporary name, then renamed
// over it, so that a reader sees the old text or the new, never a part.
Status WriteWhole(const fs::path& file, std::string_view text) {
  const fs::path incoming = file.string() + ".incoming";
  std::error_code ec;
  fs::remove(incoming, ec);  // left by a write that stopped halfway; never followed if a link
  auto out = store::OpenPrivateFile(incoming, store::IfMissing::kCreate);
  if (!out.ok()) return out.status();
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(out->fd(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      fs::remove(incoming, ec);
      return FailedPrecondition("cannot write " + incoming.string() + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(out->fd()) != 0 || ::rename(incoming.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    fs::remove(incoming, ec);
    return FailedPrecondition("cannot replace " + file.string() + ": " + why);
  }
  return Status::Ok();
}

}  // namespace

Result<ServedTls> ServedTls::Write(const fs::path& folder, const auth::TlsMaterial& material) {
  ServedTls served(folder, !material.client_ca.empty());
  if (Status written = served.Replace(material); !written.ok()) return written;
  return served;
}

Status ServedTls::Replace(const auth::TlsMaterial& material) const {
  if (material.client_ca.empty() == clients_prove_) {
    return FailedPrecondition(
        "whether clients present a certificate ([api.tls] client_ca_file) changes only with a "
        "restart");
  }
  // OpenSSL reads the key and the chain from one file: each read skips the blocks of the
  // other kind.
  if (Status s = WriteWhole(identity_file(), material.private_key + "\n" + material.cert_chain);
      !s.ok()) {
    return s;
  }
  return clients_prove_ ? WriteWhole(client_ca_file(), material.client_ca) : Status::Ok();
}

fs::path ServedTls::client_ca_file() const {
  return clients_prove_ ? folder_ / "tls-client-ca.pem" : fs::path();
}

}  // namespace propbridge::api
