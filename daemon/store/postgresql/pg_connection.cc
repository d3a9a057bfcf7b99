#include "daemon/store/postgresql/pg_connection.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "daemon/identity/text.h"

namespace propbridge::store {
namespace {

namespace fs = std::filesystem;

// Type OIDs (PostgreSQL's catalog/pg_type.h, fixed since 7.x).
constexpr unsigned kBoolOid = 16;
constexpr unsigned kByteaOid = 17;
constexpr unsigned kNameOid = 19;
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kInt2Oid = 21;
constexpr unsigned kInt4Oid = 23;
constexpr unsigned kTextOid = 25;
constexpr unsigned kJsonOid = 114;
constexpr unsigned kBpcharOid = 1042;
constexpr unsigned kVarcharOid = 1043;
constexpr unsigned kTextArrayOid = 1009;
constexpr unsigned kInt8ArrayOid = 1016;
constexpr unsigned kInferredOid = 0;  // the server infers the type from the statement (NULL)

constexpr std::array<unsigned, 3> kIntegerTypes = {kInt2Oid, kInt4Oid, kInt8Oid};
constexpr std::array<unsigned, 1> kBoolTypes = {kBoolOid};
constexpr std::array<unsigned, 5> kTextTypes = {kTextOid, kVarcharOid, kBpcharOid, kNameOid,
                                                kJsonOid};
constexpr std::array<unsigned, 1> kByteaTypes = {kByteaOid};

// Values PostgreSQL's binary formats use for results and parameters.
constexpr int kBinary = 1;

// Older servers lack what the schema uses or are out of support.
constexpr int kOldestServerVersion = 120000;
constexpr int kDefaultConnectTimeoutSeconds = 10;
// A password is a line of text; a bigger file is something else.
constexpr std::size_t kMaxPasswordFileBytes = 64 * 1024;
// Prepared statements kept per connection before they are all dropped and made again.
constexpr std::size_t kMaxPreparedStatements = 256;
// COPY data is sent in chunks of about this size.
constexpr std::size_t kCopyChunkBytes = 256 * 1024;

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
using OwnedConnection = std::unique_ptr<PGconn, ConnectionCloser>;

// Wipes a secret from memory when it goes.
class Secret {
 public:
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { OPENSSL_cleanse(text_.data(), text_.size()); }
  std::string& text() { return text_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

Status WithMessage(StatusCode code, std::string_view what, std::string_view message) {
  return Status(code, std::string(what) + ": " + std::string(message));
}

// libpq's multi-line messages ("...\n\tThis probably means ...") as one line, without the
// LOCATION lines of a verbose message.
std::string OneLine(std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = identity::TrimSpaces(text.substr(start, end - start));
    if (!part.empty() && part.rfind("LOCATION:", 0) != 0) {
      if (!line.empty()) line += ' ';
      line += part;
    }
    start = end + 1;
  }
  return identity::CollapseSpaces(line);
}

bool IsSqlstate(std::string_view text) {
  return text.size() == 5 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
         });
}

// Every SQLSTATE has a digit; a severity ("FATAL", or its translation) has none.
bool LooksLikeSqlstate(std::string_view text) {
  return IsSqlstate(text) &&
         std::any_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A verbose message reads "<severity>:  <SQLSTATE>: <message>" whatever the server's language;
// the SQLSTATE of the last such part, which it takes out of `message`.
std::optional<std::string> TakeSqlstate(std::string& message) {
  std::optional<std::string> found;
  std::size_t at = 0;
  while ((at = message.find(": ", at)) != std::string::npos) {
    const std::size_t code = at + 2;
    if (LooksLikeSqlstate(std::string_view(message).substr(code, 5)) &&
        message.compare(code + 5, 2, ": ") == 0) {
      found = message.substr(code, 5);
      message.erase(code, 7);
    }
    at = code;
  }
  return found;
}

// `status` with every secret in its message masked.
Status Scrubbed(const Status& status, std::span<const std::string* const> secrets) {
  std::string message = status.message();
  for (const std::string* secret : secrets) {
    if (secret->empty()) continue;
    for (std::size_t at = 0; (at = message.find(*secret, at)) != std::string::npos;) {
      message.replace(at, secret->size(), "********");
      at += 8;
    }
  }
  return Status(status.code(), std::move(message));
}

// The error of a statement, or libpq's own when there is no result or it has no SQLSTATE (the
// connection is lost, libpq is out of memory).
Status Failure(PGconn* connection, const PGresult* result, std::string_view what) {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (sqlstate == nullptr) {
    std::string message = OneLine(result != nullptr ? PQresultErrorMessage(result) : "");
    if (message.empty()) message = OneLine(PQerrorMessage(connection));
    if (message.empty()) message = "libpq reported no reason";
    return WithMessage(
        PQstatus(connection) == CONNECTION_BAD ? StatusCode::kUnavailable : StatusCode::kInternal,
        what, message);
  }
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  // Not the DETAIL: it quotes the values of a violated key, which may be a phone number.
  return WithMessage(
      PgCodeFor(sqlstate), what,
      std::string(primary != nullptr ? primary : "no message") + " (SQLSTATE " + sqlstate + ")");
}

Status ConnectFailed(PGconn* connection) {
  std::string message = OneLine(PQerrorMessage(connection));
  std::optional<std::string> sqlstate = TakeSqlstate(message);
  StatusCode code = sqlstate ? PgCodeFor(*sqlstate) : StatusCode::kUnavailable;
  if (PQconnectionNeedsPassword(connection)) {
    code = StatusCode::kPermissionDenied;
    message += " (the server asks for a password: give a password file)";
  }
  return WithMessage(code, "connect to PostgreSQL", message);
}

// What a password file holds: its first line.
Result<std::string> ReadPasswordFile(const fs::path& path) {
  const std::string name = path.string();
  // O_NONBLOCK: a FIFO in the file's place is refused below instead of blocking the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return FailedPrecondition("password file " + name +
                                " is a symbolic link, and propbridged follows none to a secret; "
                                "name the file itself");
    }
    return FailedPrecondition("cannot open password file " + name + ": " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    return FailedPrecondition("cannot read the mode of password file " + name + ": " +
                              std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    return FailedPrecondition("password file " + name + " is not a regular file");
  }
  if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return FailedPrecondition("password file " + name + " lets its group or others in (mode " +
                              mode.data() + "); make it its owner's alone: chmod 600 " + name);
  }
  Secret content;
  content.text().resize(kMaxPasswordFileBytes + 1);
  std::size_t size = 0;
  while (size < content.text().size()) {
    const ssize_t n = ::read(fd, content.text().data() + size, content.text().size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return FailedPrecondition("cannot read password file " + name + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > kMaxPasswordFileBytes) {
    return FailedPrecondition("password file " + name + " is over " +
                              std::to_string(kMaxPasswordFileBytes) +
                              " bytes: it should hold the password alone");
  }
  std::string_view text(content.text().data(), size);
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    return FailedPrecondition("password file " + name +
                              " holds no password: its first line is the password");
  }
  if (line.find('\0') != std::string_view::npos) {
    return FailedPrecondition("password file " + name + " holds a NUL byte, which no password can");
  }
  return std::string(line);
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool IsUri(std::string_view text) {
  return StartsWith(text, "postgresql://") || StartsWith(text, "postgres://");
}

// Whether a connection string that libpq could not parse may hold a password, which libpq's
// reason could then quote: a password keyword, or a URI's "user:password@".
bool MayHoldPassword(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("password") != std::string::npos) return true;
  if (!IsUri(lower)) return false;
  std::string_view rest = std::string_view(text).substr(text.find("://") + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const std::size_t at = authority.rfind('@');
  return at != std::string_view::npos && authority.substr(0, at).find(':') != std::string::npos;
}

// What Open takes from the connection string itself.
struct ConnectionSettings {
  Secret password;
  // How long the whole connect may take; none when connect_timeout is 0.
  std::optional<std::chrono::seconds> timeout = std::chrono::seconds(kDefaultConnectTimeoutSeconds);
};

Status ReadConnectionString(const std::string& text, ConnectionSettings& settings) {
  // As libpq takes it: a string without '=' that is no URI is a database name.
  if (text.find('=') == std::string::npos && !IsUri(text)) return Status::Ok();
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
  if (options == nullptr) {
    std::string reason = error != nullptr ? OneLine(error) : "libpq is out of memory";
    PQfreemem(error);
    if (MayHoldPassword(text)) {
      return InvalidArgument(
          "the PostgreSQL connection string is not valid (libpq's reason is not shown, since it "
          "may quote the password in the string; a password file keeps it out of the string)");
    }
    return InvalidArgument("the PostgreSQL connection string is not valid: " + reason);
  }
  Status status;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    const std::string_view keyword = option->keyword;
    const std::string_view value = option->val;
    if (keyword == "password") {
      settings.password.text() = value;
    } else if (keyword == "connect_timeout") {
      int seconds = 0;
      auto [end, parse_error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (parse_error != std::errc() || end != value.data() + value.size()) {
        status = InvalidArgument("connect_timeout \"" + std::string(value) +
                                 "\" in the PostgreSQL connection string is not whole seconds");
      } else if (seconds <= 0) {
        settings.timeout.reset();  // libpq's meaning: wait indefinitely
      } else {
        settings.timeout = std::chrono::seconds(std::max(seconds, 2));  // libpq's minimum
      }
    }
  }
  PQconninfoFree(options);
  return status;
}

// Drives libpq's non-blocking connect to its end, or until `timeout` has passed. Non-blocking,
// so that the error verbosity can be set before the server answers: a verbose message holds
// the SQLSTATE, and only that tells a wrong password from a server that is starting up.
Status Connect(PGconn* connection, std::optional<std::chrono::seconds> timeout) {
  if (PQstatus(connection) == CONNECTION_BAD) return ConnectFailed(connection);
  PQsetErrorVerbosity(connection, PQERRORS_VERBOSE);
  const auto deadline =
      std::chrono::steady_clock::now() + timeout.value_or(std::chrono::seconds(0));
  PostgresPollingStatusType polled = PGRES_POLLING_WRITING;
  while (polled != PGRES_POLLING_OK) {
    if (polled == PGRES_POLLING_FAILED) return ConnectFailed(connection);
    int wait_ms = -1;
    if (timeout) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return Unavailable("connect to PostgreSQL: no connection within " +
                           std::to_string(timeout->count()) + " s (connect_timeout)");
      }
      wait_ms = static_cast<int>(left.count());
    }
    pollfd socket{PQsocket(connection),
                  static_cast<short>(polled == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    const int ready = ::poll(&socket, 1, wait_ms);
    if (ready < 0 && errno != EINTR) {
      return Unavailable(std::string("connect to PostgreSQL: ") + std::strerror(errno));
    }
    if (ready > 0) polled = PQconnectPoll(connection);
  }
  PQsetErrorVerbosity(connection, PQERRORS_DEFAULT);
  return Status::Ok();
}

// What the connection must be for the store's text and schema.
Status CheckServer(PGconn* connection) {
  const std::string database = PQdb(connection);
  const char* encoding = PQparameterStatus(connection, "server_encoding");
  if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
    return FailedPrecondition("PostgreSQL database \"" + database + "\" has encoding " +
                              (encoding != nullptr ? encoding : "(unknown)") +
                              ", and propbridged stores UTF-8 text: create it WITH ENCODING "
                              "'UTF8' (TEMPLATE template0 if the cluster's default differs)");
  }
  if (std::string_view(pg_encoding_to_char(PQclientEncoding(connection))) != "UTF8") {
    return FailedPrecondition("PostgreSQL did not take client_encoding UTF8");
  }
  if (PQserverVersion(connection) < kOldestServerVersion) {
    return FailedPrecondition("the PostgreSQL server is version " +
                              std::to_string(PQserverVersion(connection)) +
                              "; propbridged needs 12 or later");
  }
  return Status::Ok();
}

// The server's warnings go to the log; its notices ("relation exists, skipping") do not.
void OnNotice(void*, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity == nullptr || std::string_view(severity) != "WARNING") return;
  const char* message = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
  spdlog::warn("PostgreSQL: {}", message != nullptr ? message : "(no message)");
}

// Why `text` cannot go into PostgreSQL text, or null when it can.
const char* TextProblem(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return "holds a NUL byte, which text cannot";
  if (!identity::IsUtf8(text)) return "is not valid UTF-8";
  return nullptr;
}

void PutBigEndian(std::uint64_t value, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
}

std::int64_t ReadBigEndian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char c : bytes) value = value << 8 | static_cast<unsigned char>(c);
  // Sign-extend a smallint or an integer.
  const unsigned bits = static_cast<unsigned>(bytes.size()) * 8;
  if (bits > 0 && bits < 64 && (value >> (bits - 1)) != 0) value |= ~std::uint64_t{0} << bits;
  return static_cast<std::int64_t>(value);
}

void PutBigEndian32(std::int32_t value, std::string& out) {
  const auto bits = static_cast<std::uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((bits >> shift) & 0xFF);
}

// An array of one dimension in PostgreSQL's binary format (array_recv): dimensions, a flag for
// NULLs, the element type, the dimension's size and lower bound, then each element's length
// and bytes. An empty array has no dimension.
template <typename Element, typename Put>
void EncodeArray(std::span<const Element> elements, unsigned element_type, Put put,
                 std::string& out) {
  PutBigEndian32(elements.empty() ? 0 : 1, out);
  PutBigEndian32(0, out);
  PutBigEndian32(static_cast<std::int32_t>(element_type), out);
  if (elements.empty()) return;
  PutBigEndian32(static_cast<std::int32_t>(elements.size()), out);
  PutBigEndian32(1, out);
  for (const Element& element : elements) put(element, out);
}

// libpq's parameter arrays for one statement.
struct EncodedParams {
  std::vector<unsigned> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<std::array<char, 8>> numbers;  // the binary integers the values point into
  std::vector<std::string> arrays;           // the binary arrays the values point into
};

Status Encode(std::span<const PgParam> params, std::string_view what, EncodedParams& out) {
  const std::size_t n = params.size();
  out.types.assign(n, kInferredOid);
  out.values.assign(n, nullptr);
  out.lengths.assign(n, 0);
  out.formats.assign(n, kBinary);
  out.numbers.resize(n);
  out.arrays.assign(n, std::string());
  auto number = [&](std::size_t i, unsigned type, std::int64_t value) {
    PutBigEndian(static_cast<std::uint64_t>(value), out.numbers[i].data());
    out.types[i] = type;
    out.values[i] = out.numbers[i].data();
    out.lengths[i] = 8;
  };
  // An empty view may have no data; a null value would mean NULL.
  auto bytes = [&](std::size_t i, unsigned type, std::string_view value) {
    out.types[i] = type;
    out.values[i] = value.empty() ? "" : value.data();
    out.lengths[i] = static_cast<int>(value.size());
  };
  for (std::size_t i = 0; i < n; ++i) {
    const PgParam& param = params[i];
    if (const auto* integer = std::get_if<std::int64_t>(&param)) {
      number(i, kInt8Oid, *integer);
    } else if (const auto* time = std::get_if<PgTime>(&param)) {
      number(i, kInt8Oid, time->time_since_epoch().count());
    } else if (const auto* text = std::get_if<std::string_view>(&param)) {
      if (const char* problem = TextProblem(*text)) {
        return InvalidArgument(std::string(what) + ": the text of $" + std::to_string(i + 1) + " " +
                               problem);
      }
      bytes(i, kTextOid, *text);
    } else if (const auto* blob = std::get_if<PgBytes>(&param)) {
      bytes(i, kByteaOid, blob->bytes);
    } else if (const auto* flag = std::get_if<bool>(&param)) {
      out.numbers[i][0] = *flag ? 1 : 0;
      out.types[i] = kBoolOid;
      out.values[i] = out.numbers[i].data();
      out.lengths[i] = 1;
    } else if (const auto* texts = std::get_if<PgTextArray>(&param)) {
      for (std::string_view element : texts->values) {
        if (const char* problem = TextProblem(element)) {
          return InvalidArgument(std::string(what) + ": an element of $" + std::to_string(i + 1) +
                                 " " + problem);
        }
      }
      EncodeArray<std::string_view>(
          texts->values, kTextOid,
          [](std::string_view element, std::string& to) {
            PutBigEndian32(static_cast<std::int32_t>(element.size()), to);
            to.append(element);
          },
          out.arrays[i]);
      bytes(i, kTextArrayOid, out.arrays[i]);
    } else if (const auto* integers = std::get_if<PgInt64Array>(&param)) {
      EncodeArray<std::int64_t>(
          integers->values, kInt8Oid,
          [](std::int64_t element, std::string& to) {
            PutBigEndian32(8, to);
            std::array<char, 8> number{};
            PutBigEndian(static_cast<std::uint64_t>(element), number.data());
            to.append(number.data(), number.size());
          },
          out.arrays[i]);
      bytes(i, kInt8ArrayOid, out.arrays[i]);
    }
  }
  return Status::Ok();
}

std::int64_t CommandRows(const PGresult* result) {
  std::string_view text = PQcmdTuples(const_cast<PGresult*>(result));
  std::int64_t rows = 0;
  std::from_chars(text.data(), text.data() + text.size(), rows);
  return rows;
}

// Collects what is left of a command (ending a COPY that is still open), so the connection can
// take the next one.
void Drain(PGconn* connection) {
  while (PGresult* result = PQgetResult(connection)) {
    const bool copying = PQresultStatus(result) == PGRES_COPY_IN;
    PQclear(result);
    if (copying && PQputCopyEnd(connection, "propbridged abandoned the COPY") != 1) break;
  }
}

// "name", as SQL quotes an identifier.
std::string Quoted(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

void AppendInteger(std::string& out, std::int64_t value) {
  std::array<char, 24> digits{};
  auto [end, error] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  out.append(digits.data(), end);
}

// Text in COPY's text format: backslash, tab, newline and carriage return escaped.
void AppendCopyText(std::string& out, std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t special = text.find_first_of("\\\t\n\r", start);
    out.append(text.substr(start, special - start));
    if (special == std::string_view::npos) return;
    switch (text[special]) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += "\\r";
        break;
    }
    start = special + 1;
  }
}

}  // namespace

StatusCode PgCodeFor(std::string_view sqlstate) {
  if (!IsSqlstate(sqlstate)) return StatusCode::kInternal;
  if (sqlstate == "23505" || sqlstate == "42P07" || sqlstate == "42710") {
    return StatusCode::kAlreadyExists;  // a unique key, a table or another object
  }
  if (sqlstate == "25P02" || sqlstate == "55P03") {
    return StatusCode::kAborted;  // in a failed transaction; a lock not available
  }
  if (sqlstate == "57014") return StatusCode::kCancelled;
  if (sqlstate == "53300" || sqlstate == "25006") {
    return StatusCode::kUnavailable;  // too many connections; a read-only server (a standby)
  }
  if (sqlstate == "42501") return StatusCode::kPermissionDenied;
  if (sqlstate == "3D000" || sqlstate == "3F000") {
    return StatusCode::kFailedPrecondition;  // no such database or schema
  }
  if (sqlstate == "XX001" || sqlstate == "XX002") return StatusCode::kDataLoss;
  const std::string_view sqlclass = sqlstate.substr(0, 2);
  if (sqlclass == "08" || sqlclass == "57") return StatusCode::kUnavailable;
  if (sqlclass == "40") return StatusCode::kAborted;
  if (sqlclass == "53") return StatusCode::kResourceExhausted;  // disk full, out of memory
  if (sqlclass == "22" || sqlclass == "23" || sqlclass == "54") {
    return StatusCode::kInvalidArgument;  // bad data, a constraint, a value over a limit
  }
  if (sqlclass == "28") return StatusCode::kPermissionDenied;
  return StatusCode::kInternal;
}

int PgRow::columns() const { return PQnfields(result_); }

std::string_view PgRow::Value(int column, std::span<const unsigned> types,
                              const char* read_as) const {
  auto fail = [&](std::string message) {
    if (error_->ok()) *error_ = Internal(std::move(message));
    return std::string_view();
  };
  if (column < 0 || column >= PQnfields(result_)) {
    return fail("the result has no column " + std::to_string(column) + ", read as " + read_as);
  }
  const unsigned type = PQftype(result_, column);
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    return fail("column " + std::to_string(column) + " (" + PQfname(result_, column) +
                ") is of type " + std::to_string(type) + ", read as " + read_as);
  }
  if (PQgetisnull(result_, row_, column)) return {};
  return std::string_view(PQgetvalue(result_, row_, column),
                          static_cast<std::size_t>(PQgetlength(result_, row_, column)));
}

bool PgRow::IsNull(int column) const {
  if (column < 0 || column >= PQnfields(result_)) {
    if (error_->ok()) *error_ = Internal("the result has no column " + std::to_string(column));
    return true;
  }
  return PQgetisnull(result_, row_, column) != 0;
}

std::int64_t PgRow::Int64(int column) const {
  return ReadBigEndian(Value(column, kIntegerTypes, "an integer"));
}

PgTime PgRow::Time(int column) const { return PgTime(std::chrono::microseconds(Int64(column))); }

std::optional<std::int64_t> PgRow::OptionalInt64(int column) const {
  const std::int64_t value = Int64(column);
  if (IsNull(column)) return std::nullopt;
  return value;
}

std::optional<PgTime> PgRow::OptionalTime(int column) const {
  std::optional<std::int64_t> value = OptionalInt64(column);
  if (!value) return std::nullopt;
  return PgTime(std::chrono::microseconds(*value));
}

bool PgRow::Bool(int column) const {
  std::string_view value = Value(column, kBoolTypes, "a boolean");
  return !value.empty() && value[0] != 0;
}

std::string_view PgRow::Text(int column) const { return Value(column, kTextTypes, "text"); }

std::string_view PgRow::Bytes(int column) const { return Value(column, kByteaTypes, "bytea"); }

void PgConnection::ResultCloser::operator()(pg_result* result) const { PQclear(result); }

Result<std::unique_ptr<PgConnection>> PgConnection::Open(
    const std::string& connection_string, const std::optional<fs::path>& password_file) {
  Secret password;
  if (password_file) {
    Result<std::string> read = ReadPasswordFile(*password_file);
    if (!read.ok()) return read.status();
    password.text() = std::move(read).value();
  }
  ConnectionSettings settings;
  if (Status s = ReadConnectionString(connection_string, settings); !s.ok()) return s;
  const std::array<const std::string*, 2> secrets = {&password.text(), &settings.password.text()};

  // Later keywords override earlier ones, the connection string's among them: what comes
  // before it are defaults the string may change, what comes after it is not the string's to
  // change. The keepalives and the user timeout notice a server that vanished without closing
  // the connection (a host that went down) within about a minute.
  std::vector<const char*> keywords = {
      "fallback_application_name", "keepalives_idle", "keepalives_interval", "keepalives_count",
      "tcp_user_timeout",          "dbname",          "client_encoding"};
  std::vector<const char*> values = {
      "propbridged", "30", "10", "3", "60000", connection_string.c_str(), "UTF8"};
  if (password_file) {
    keywords.push_back("password");
    values.push_back(password.text().c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  OwnedConnection connection(PQconnectStartParams(keywords.data(), values.data(), 1));
  if (connection == nullptr)
    return ResourceExhausted("connect to PostgreSQL: libpq is out of memory");
  if (Status s = Connect(connection.get(), settings.timeout); !s.ok()) return Scrubbed(s, secrets);
  if (Status s = CheckServer(connection.get()); !s.ok()) return s;
  PQsetNoticeReceiver(connection.get(), OnNotice, nullptr);
  PGcancel* cancel = PQgetCancel(connection.get());
  return std::unique_ptr<PgConnection>(new PgConnection(connection.release(), cancel));
}

PgConnection::~PgConnection() {
  if (cancel_ != nullptr) PQfreeCancel(cancel_);
  PQfinish(connection_);
}

void PgConnection::Cancel() const {
  if (cancel_ == nullptr) return;
  // What went wrong is of no use to the caller: the statement then runs to its end.
  std::array<char, 256> error{};
  PQcancel(cancel_, error.data(), static_cast<int>(error.size()));
}

bool PgConnection::broken() const { return PQstatus(connection_) == CONNECTION_BAD; }

Status PgConnection::RefuseDuringCopy(std::string_view what) const {
  if (!copying_) return Status::Ok();
  return FailedPrecondition(std::string(what) + ": a COPY is in progress on the connection");
}

Result<std::string> PgConnection::PreparedName(std::string_view sql,
                                               std::span<const unsigned> types,
                                               std::string_view what) {
  std::string key;
  for (unsigned type : types) key += std::to_string(type) + ',';
  key += '\n';
  key += sql;
  if (auto it = prepared_.find(key); it != prepared_.end()) return it->second;
  if (prepared_.size() >= kMaxPreparedStatements) {
    // Names are never reused, so the statements a failed DEALLOCATE leaves are only unused.
    PQclear(PQexec(connection_, "DEALLOCATE ALL"));
    prepared_.clear();
  }
  std::string name = "propbridge_" + std::to_string(++statements_made_);
  OwnedResult prepared(PQprepare(connection_, name.c_str(), std::string(sql).c_str(),
                                 static_cast<int>(types.size()), types.data()));
  if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    return Failure(connection_, prepared.get(), "prepare " + std::string(what));
  }
  prepared_.emplace(std::move(key), name);
  return name;
}

Result<PgConnection::OwnedResult> PgConnection::Run(std::string_view sql,
                                                    std::span<const PgParam> params,
                                                    std::string_view what) {
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  EncodedParams encoded;
  if (Status s = Encode(params, what, encoded); !s.ok()) return s;
  Result<std::string> name = PreparedName(sql, encoded.types, what);
  if (!name.ok()) return name.status();
  OwnedResult result(PQexecPrepared(connection_, name->c_str(), static_cast<int>(params.size()),
                                    encoded.values.data(), encoded.lengths.data(),
                                    encoded.formats.data(), kBinary));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
    Drain(connection_);
    return Internal(std::string(what) + ": COPY runs through CopyIn");
  }
  return Failure(connection_, result.get(), what);
}

Status PgConnection::RunQuery(std::string_view sql, std::span<const PgParam> params,
                              std::string_view what,
                              const std::function<Status(const PgRow&)>& row) {
  Result<OwnedResult> result = Run(sql, params, what);
  if (!result.ok()) return result.status();
  const int rows = PQntuples(result->get());
  Status misread;
  for (int i = 0; i < rows; ++i) {
    Status s = row(PgRow(result->get(), i, &misread));
    if (!misread.ok()) return WithMessage(misread.code(), what, misread.message());
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::int64_t> PgConnection::Exec(std::string_view sql, std::span<const PgParam> params,
                                        std::string_view what) {
  Result<OwnedResult> result = Run(sql, params, what);
  if (!result.ok()) return result.status();
  return CommandRows(result->get());
}

Result<PgConnection::OwnedResult> PgConnection::Command(const std::string& sql,
                                                        std::string_view what) {
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  OwnedResult result(PQexec(connection_, sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
    Drain(connection_);
    return Internal(std::string(what) + ": COPY runs through CopyIn");
  }
  return Failure(connection_, result.get(), what);
}

Status PgConnection::ExecScript(std::string_view sql, std::string_view what) {
  return Command(std::string(sql), what).status();
}

Status PgConnection::Transaction(const std::function<Status()>& body, std::string_view what,
                                 PgIsolation isolation) {
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  switch (PQtransactionStatus(connection_)) {
    case PQTRANS_IDLE:
      break;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
      return FailedPrecondition(std::string(what) +
                                ": a transaction is open on the connection already");
    default:
      return Failure(connection_, nullptr, what);
  }
  const char* begin = isolation == PgIsolation::kSerializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                      : isolation == PgIsolation::kRepeatableRead
                          ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                          : "BEGIN ISOLATION LEVEL READ COMMITTED";
  if (Result<OwnedResult> begun = Command(begin, what); !begun.ok()) return begun.status();
  // Rolls back however `body` leaves unless COMMIT was sent.
  struct RollBackUnlessSent {
    PgConnection* connection;
    bool sent = false;
    ~RollBackUnlessSent() {
      if (sent || connection->copying_) return;
      PQclear(PQexec(connection->connection_, "ROLLBACK"));
      connection->savepoint_depth_ = 0;
    }
  } guard{this};
  if (Status s = body(); !s.ok()) return s;
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  guard.sent = true;
  Result<OwnedResult> commit = Command("COMMIT", what);
  savepoint_depth_ = 0;
  if (!commit.ok()) {
    if (commit.status().code() == StatusCode::kUnavailable) {
      return Unavailable(commit.status().message() +
                         " (the connection was lost at COMMIT: whether the transaction "
                         "committed is unknown)");
    }
    return commit.status();
  }
  if (std::string_view(PQcmdStatus(commit->get())) != "COMMIT") {
    return Status(StatusCode::kAborted,
                  std::string(what) +
                      ": rolled back at COMMIT, for a statement in the transaction had failed");
  }
  return Status::Ok();
}

Status PgConnection::Savepoint(const std::function<Status()>& body, std::string_view what) {
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  switch (PQtransactionStatus(connection_)) {
    case PQTRANS_INTRANS:
      break;
    case PQTRANS_IDLE:
      return FailedPrecondition(std::string(what) + ": a savepoint needs a transaction");
    case PQTRANS_INERROR:
      return Status(StatusCode::kAborted,
                    std::string(what) + ": the transaction has failed already");
    default:
      return Failure(connection_, nullptr, what);
  }
  const std::string name = "propbridge_savepoint_" + std::to_string(savepoint_depth_ + 1);
  if (auto made = Command("SAVEPOINT " + name, what); !made.ok()) return made.status();
  ++savepoint_depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{savepoint_depth_};
  Status s = body();
  if (s.ok()) return Command("RELEASE SAVEPOINT " + name, what).status();
  // ROLLBACK TO keeps the savepoint; RELEASE drops it, so that names stay by depth.
  if (Command("ROLLBACK TO SAVEPOINT " + name, what).ok()) {
    PQclear(PQexec(connection_, ("RELEASE SAVEPOINT " + name).c_str()));
  }
  return s;
}

Result<PgCopyIn> PgConnection::CopyIn(std::string_view table,
                                      std::span<const std::string_view> columns,
                                      std::string_view what) {
  if (columns.empty()) return InvalidArgument(std::string(what) + ": a COPY of no columns");
  std::string sql = "COPY " + Quoted(table) + " (";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += Quoted(columns[i]);
  }
  sql += ") FROM STDIN";
  if (Status s = RefuseDuringCopy(what); !s.ok()) return s;
  OwnedResult result(PQexec(connection_, sql.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COPY_IN)
    return Failure(connection_, result.get(), what);
  copying_ = true;
  return PgCopyIn(this, columns.size(), std::string(what));
}

PgCopyIn::PgCopyIn(PgConnection* connection, std::size_t columns, std::string what)
    : connection_(connection), columns_(columns), what_(std::move(what)) {
  buffer_.reserve(kCopyChunkBytes + kCopyChunkBytes / 4);
}

PgCopyIn::PgCopyIn(PgCopyIn&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)),
      columns_(other.columns_),
      what_(std::move(other.what_)),
      buffer_(std::move(other.buffer_)),
      failed_(std::move(other.failed_)) {}

PgCopyIn& PgCopyIn::operator=(PgCopyIn&& other) noexcept {
  if (this != &other) {
    Abandon();
    connection_ = std::exchange(other.connection_, nullptr);
    columns_ = other.columns_;
    what_ = std::move(other.what_);
    buffer_ = std::move(other.buffer_);
    failed_ = std::move(other.failed_);
  }
  return *this;
}

PgCopyIn::~PgCopyIn() { Abandon(); }

void PgCopyIn::Abandon() {
  if (connection_ == nullptr) return;
  PGconn* connection = connection_->connection_;
  if (PQputCopyEnd(connection, "propbridged abandoned the COPY") == 1) Drain(connection);
  connection_->copying_ = false;
  connection_ = nullptr;
}

Status PgCopyIn::AddRow(std::span<const PgParam> values) {
  if (!failed_.ok()) return failed_;
  if (connection_ == nullptr) return FailedPrecondition(what_ + ": the COPY is over");
  if (values.size() != columns_) {
    return InvalidArgument(what_ + ": a row of " + std::to_string(values.size()) + " values for " +
                           std::to_string(columns_) + " columns");
  }
  const std::size_t row_start = buffer_.size();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) buffer_ += '\t';
    const PgParam& value = values[i];
    if (const auto* integer = std::get_if<std::int64_t>(&value)) {
      AppendInteger(buffer_, *integer);
    } else if (const auto* time = std::get_if<PgTime>(&value)) {
      AppendInteger(buffer_, time->time_since_epoch().count());
    } else if (const auto* text = std::get_if<std::string_view>(&value)) {
      if (const char* problem = TextProblem(*text)) {
        buffer_.resize(row_start);
        return InvalidArgument(what_ + ": the text of column " + std::to_string(i + 1) + " " +
                               problem);
      }
      AppendCopyText(buffer_, *text);
    } else if (const auto* blob = std::get_if<PgBytes>(&value)) {
      // bytea's hex form, its backslash escaped for COPY.
      static constexpr char kDigits[] = "0123456789abcdef";
      buffer_ += "\\\\x";
      for (char c : blob->bytes) {
        const auto byte = static_cast<unsigned char>(c);
        buffer_ += kDigits[byte >> 4];
        buffer_ += kDigits[byte & 0xF];
      }
    } else if (const auto* flag = std::get_if<bool>(&value)) {
      buffer_ += *flag ? 't' : 'f';
    } else if (std::holds_alternative<std::monostate>(value)) {
      buffer_ += "\\N";
    } else {
      buffer_.resize(row_start);
      return InvalidArgument(what_ + ": column " + std::to_string(i + 1) +
                             " is an array, which a COPY of propbridged does not carry");
    }
  }
  buffer_ += '\n';
  if (buffer_.size() >= kCopyChunkBytes) return Send();
  return Status::Ok();
}

Status PgCopyIn::Send() {
  if (buffer_.empty()) return Status::Ok();
  PGconn* connection = connection_->connection_;
  if (PQputCopyData(connection, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
    failed_ = Failure(connection, nullptr, what_);
    return failed_;
  }
  buffer_.clear();
  return Status::Ok();
}

Result<std::int64_t> PgCopyIn::Finish() {
  if (!failed_.ok()) {
    Abandon();
    return failed_;
  }
  if (connection_ == nullptr) return FailedPrecondition(what_ + ": the COPY is over");
  if (Status s = Send(); !s.ok()) {
    Abandon();
    return s;
  }
  PGconn* connection = connection_->connection_;
  connection_->copying_ = false;
  connection_ = nullptr;
  if (PQputCopyEnd(connection, nullptr) != 1) {
    Status s = Failure(connection, nullptr, what_);
    Drain(connection);
    return s;
  }
  PgConnection::OwnedResult result(PQgetResult(connection));
  Result<std::int64_t> rows = PQresultStatus(result.get()) == PGRES_COMMAND_OK
                                  ? Result<std::int64_t>(CommandRows(result.get()))
                                  : Result<std::int64_t>(Failure(connection, result.get(), what_));
  Drain(connection);
  return rows;
}

}  // namespace propbridge::store
