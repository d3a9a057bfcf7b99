// A connection to PostgreSQL through libpq, and the one way the PostgreSQL store runs SQL on
// it: statements with parameters (each prepared once per connection, then reused), rows read
// by column type, transactions and savepoints, and COPY ... FROM STDIN for bulk writes.
//
// Errors are Status values whose code follows the SQLSTATE (PgCodeFor); a lost connection is
// UNAVAILABLE. No message holds the password. A connection is used by one thread at a time;
// connections are independent of each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "propbridge/sdk/status.h"

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult
struct pg_cancel;  // libpq's PGcancel

namespace propbridge::store {

// Microseconds since the Unix epoch, UTC: the same type as store::Micros. Time columns are
// bigints of these, as in the SQLite store.
using PgTime = std::chrono::sys_time<std::chrono::microseconds>;

// Bytes sent as bytea rather than as text.
struct PgBytes {
  std::string_view bytes;
};

// A text[] parameter, for `= ANY($1)` and `unnest($1, $2)`: a statement of one shape for any
// number of values. Not a COPY value.
struct PgTextArray {
  std::span<const std::string_view> values;
};

// A bigint[] parameter, as PgTextArray.
struct PgInt64Array {
  std::span<const std::int64_t> values;
};

// A statement parameter ($1, $2, ... in order) or a COPY value: bigint, text, bytea, a time
// (sent as its bigint of microseconds), a boolean, NULL (std::monostate), or an array of text or
// bigints (parameters only). Text must be valid UTF-8 without NUL bytes, which PostgreSQL
// refuses; INVALID_ARGUMENT says so before anything is sent. Text, bytes and arrays are borrowed
// for the call, never copied into the parameter.
using PgParam = std::variant<std::int64_t, std::string_view, PgBytes, PgTime, bool, std::monostate,
                             PgTextArray, PgInt64Array>;

// `value`, or NULL when it has none.
template <typename T>
PgParam PgNullable(const std::optional<T>& value) {
  if (!value) return std::monostate{};
  return PgParam(*value);
}

// The Status code for a SQLSTATE: unique_violation (23505) is ALREADY_EXISTS, serialization
// failures and deadlocks (class 40) ABORTED, connection exceptions (class 08) and a server
// shutting down UNAVAILABLE, disk full RESOURCE_EXHAUSTED, ... and INTERNAL for the rest.
StatusCode PgCodeFor(std::string_view sqlstate);

// One row of a result, handed to a Query callback and valid only during the call. Columns are
// read by position with the method of their type; a read of the wrong type (Text of a bigint)
// or of a column that is not there gives an empty value and fails the query with INTERNAL.
class PgRow {
 public:
  int columns() const;
  bool IsNull(int column) const;
  // smallint, integer or bigint; 0 for NULL.
  std::int64_t Int64(int column) const;
  // A bigint of microseconds since the epoch; the epoch for NULL.
  PgTime Time(int column) const;
  std::optional<std::int64_t> OptionalInt64(int column) const;
  std::optional<PgTime> OptionalTime(int column) const;
  // false for NULL.
  bool Bool(int column) const;
  // text (or varchar, character, name, json); empty for NULL. Valid as long as the row.
  std::string_view Text(int column) const;
  // bytea; empty for NULL. Valid as long as the row.
  std::string_view Bytes(int column) const;

 private:
  friend class PgConnection;
  PgRow(const pg_result* result, int row, Status* error)
      : result_(result), row_(row), error_(error) {}

  // The column's binary value if its type is one of `types`, else empty with error_ set.
  std::string_view Value(int column, std::span<const unsigned> types, const char* read_as) const;

  const pg_result* result_;
  int row_;
  Status* error_;  // the first misread of the row, for Query to report
};

enum class PgIsolation { kReadCommitted, kRepeatableRead, kSerializable };

class PgConnection;

// A COPY ... FROM STDIN in text format in progress (PgConnection::CopyIn): rows are encoded and
// sent in chunks, and Finish ends it. Destroyed unfinished, it ends the COPY with an error, so
// that none of its rows are stored. Movable; the connection must outlive it.
class PgCopyIn {
 public:
  PgCopyIn(PgCopyIn&& other) noexcept;
  PgCopyIn& operator=(PgCopyIn&& other) noexcept;
  ~PgCopyIn();

  // One row: a value per column, in the columns' order. INVALID_ARGUMENT for a wrong count or
  // a value COPY cannot carry (text that is not UTF-8 or holds a NUL byte), and the COPY goes
  // on without that row; once sending has failed, every call returns that error.
  Status AddRow(std::span<const PgParam> values);
  Status AddRow(std::initializer_list<PgParam> values) {
    return AddRow(std::span<const PgParam>(values.begin(), values.size()));
  }

  // Sends what is left and ends the COPY: how many rows the server stored. A row the server
  // refuses (a unique violation: ALREADY_EXISTS) fails the whole COPY, and no row is stored.
  Result<std::int64_t> Finish();

 private:
  friend class PgConnection;
  PgCopyIn(PgConnection* connection, std::size_t columns, std::string what);
  Status Send();
  // Ends the COPY unfinished, so that none of it is stored.
  void Abandon();

  PgConnection* connection_;  // null once finished, abandoned or moved from
  std::size_t columns_;
  std::string what_;
  std::string buffer_;
  Status failed_;  // the error that ended sending
};

// An open connection, closed with the object.
class PgConnection {
 public:
  // Connects with `connection_string`, a libpq "key=value ..." string or postgresql:// URI, and
  // the password on the first line of `password_file` (its trailing newline dropped) when one
  // is given. The file must be a regular file, not a symbolic link, that its group and others
  // cannot read (FAILED_PRECONDITION naming it otherwise). The client encoding is UTF8 whatever
  // the string says; connect_timeout (10 s unless the string says) bounds the whole connect,
  // every host of the string included; keepalives notice a server that vanished within about a
  // minute. Refuses a database whose encoding is not UTF8 (FAILED_PRECONDITION). A failure to
  // reach the server is UNAVAILABLE; one the server answers with its SQLSTATE's code (a wrong
  // password is PERMISSION_DENIED).
  static Result<std::unique_ptr<PgConnection>> Open(
      const std::string& connection_string,
      const std::optional<std::filesystem::path>& password_file);

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Whether the connection is lost (the server ended, the network failed): every call fails
  // with UNAVAILABLE from then on, and a new connection is needed.
  bool broken() const;

  // Asks the server to cancel the statement that runs on the connection now, if any; that
  // statement then fails with CANCELLED. Safe from any thread while another uses the
  // connection, and from a std::stop_callback. A request that reaches the server between two
  // statements is ignored there, so whoever cancels must also stop sending statements.
  void Cancel() const;

  // Runs one statement with `params` for $1, $2, ..., calling `row(const PgRow&)` for each row
  // it returns; `row` returns a Status (the first error stops the reading) or nothing. `what`
  // names the statement in errors. The rows are all in memory first: page large reads.
  template <typename Row>
  Status Query(std::string_view sql, std::span<const PgParam> params, std::string_view what,
               Row row) {
    return RunQuery(sql, params, what, [&row](const PgRow& r) -> Status {
      if constexpr (std::is_void_v<decltype(row(r))>) {
        row(r);
        return Status::Ok();
      } else {
        return row(r);
      }
    });
  }
  template <typename Row>
  Status Query(std::string_view sql, std::initializer_list<PgParam> params, std::string_view what,
               Row row) {
    return Query(sql, std::span<const PgParam>(params.begin(), params.size()), what, row);
  }

  // Runs one statement whose rows, if any, are not wanted: how many rows it inserted, updated,
  // deleted or returned.
  Result<std::int64_t> Exec(std::string_view sql, std::span<const PgParam> params,
                            std::string_view what);
  Result<std::int64_t> Exec(std::string_view sql, std::initializer_list<PgParam> params,
                            std::string_view what) {
    return Exec(sql, std::span<const PgParam>(params.begin(), params.size()), what);
  }

  // Statements separated by ';', without parameters, not prepared: a schema's DDL. Outside a
  // transaction they run as one, all or none.
  Status ExecScript(std::string_view sql, std::string_view what);

  // Runs `body` in a transaction: committed if it returns OK, rolled back if it returns an
  // error (which is returned) or throws. ABORTED when the transaction could not commit, or
  // when a statement in it failed even though `body` went on and returned OK (PostgreSQL
  // rolls such a transaction back at COMMIT); UNAVAILABLE when the connection was lost, and
  // then after COMMIT was sent whether the transaction committed is unknown. Refused
  // (FAILED_PRECONDITION) inside another transaction.
  Status Transaction(const std::function<Status()>& body, std::string_view what,
                     PgIsolation isolation = PgIsolation::kReadCommitted);

  // Inside a transaction: runs `body` after a savepoint. If `body` returns an error, what it
  // did is rolled back to the savepoint and the transaction goes on; the error is returned.
  // This is how a statement may fail (a unique violation) without failing the transaction.
  // Each savepoint costs a subtransaction: not one per row.
  Status Savepoint(const std::function<Status()>& body, std::string_view what);

  // Starts COPY `table` (`columns`) FROM STDIN, in text format. `table` and `columns` are
  // plain names, quoted here. Nothing else may run on the connection until the COPY is
  // finished or dropped.
  Result<PgCopyIn> CopyIn(std::string_view table, std::span<const std::string_view> columns,
                          std::string_view what);
  Result<PgCopyIn> CopyIn(std::string_view table, std::initializer_list<std::string_view> columns,
                          std::string_view what) {
    return CopyIn(table, std::span<const std::string_view>(columns.begin(), columns.size()), what);
  }

 private:
  friend class PgCopyIn;

  struct ResultCloser {
    void operator()(pg_result* result) const;
  };
  using OwnedResult = std::unique_ptr<pg_result, ResultCloser>;

  PgConnection(pg_conn* connection, pg_cancel* cancel) : connection_(connection), cancel_(cancel) {}

  Status RunQuery(std::string_view sql, std::span<const PgParam> params, std::string_view what,
                  const std::function<Status(const PgRow&)>& row);
  // Binds and runs a prepared statement, preparing it on first use.
  Result<OwnedResult> Run(std::string_view sql, std::span<const PgParam> params,
                          std::string_view what);
  Result<std::string> PreparedName(std::string_view sql, std::span<const unsigned> types,
                                   std::string_view what);
  // BEGIN, COMMIT, SAVEPOINT and the like, which take no parameters and return no rows; the
  // result, for COMMIT's command tag.
  Result<OwnedResult> Command(const std::string& sql, std::string_view what);
  Status RefuseDuringCopy(std::string_view what) const;

  pg_conn* const connection_;
  pg_cancel* const cancel_;  // for Cancel, from any thread; null when libpq had no memory for it
  // Prepared statements by their parameter types and SQL text.
  std::map<std::string, std::string, std::less<>> prepared_;
  std::uint64_t statements_made_ = 0;
  int savepoint_depth_ = 0;
  bool copying_ = false;
};

}  // namespace propbridge::store
