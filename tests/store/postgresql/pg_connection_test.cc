#include "daemon/store/postgresql/pg_connection.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"

namespace propbridge::store {
namespace {

using std::chrono::microseconds;
using testing::PostgresServer;

class PgConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = PostgresServer::Start(error);
    ASSERT_NE(server_, nullptr) << error;
  }

  std::unique_ptr<PgConnection> Connect() {
    auto connection = PgConnection::Open(server_->ConnectionString(), server_->password_file());
    EXPECT_TRUE(connection.ok()) << connection.status().ToString();
    return connection.ok() ? std::move(connection).value() : nullptr;
  }

  // A password file of `mode` in the test's folder.
  std::filesystem::path PasswordFile(const std::string& name, const std::string& content,
                                     mode_t mode = 0600) {
    std::filesystem::path file = dir_ / name;
    testing::WriteFile(file, content);
    EXPECT_EQ(chmod(file.c_str(), mode), 0);
    return file;
  }

  void Exec(PgConnection& connection, const std::string& sql) {
    auto done = connection.Exec(sql, {}, sql);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  std::int64_t Count(PgConnection& connection, const std::string& table) {
    std::int64_t count = -1;
    Status s = connection.Query("SELECT count(*) FROM " + table, {}, "count",
                                [&](const PgRow& row) { count = row.Int64(0); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return count;
  }

  testing::TempDir dir_;
  std::unique_ptr<PostgresServer> server_;
};

TEST(PgCodeForTest, FollowsTheSqlstate) {
  EXPECT_EQ(PgCodeFor("23505"), StatusCode::kAlreadyExists);
  EXPECT_EQ(PgCodeFor("23503"), StatusCode::kInvalidArgument);
  EXPECT_EQ(PgCodeFor("40001"), StatusCode::kAborted);
  EXPECT_EQ(PgCodeFor("40P01"), StatusCode::kAborted);
  EXPECT_EQ(PgCodeFor("08006"), StatusCode::kUnavailable);
  EXPECT_EQ(PgCodeFor("57P01"), StatusCode::kUnavailable);
  EXPECT_EQ(PgCodeFor("53300"), StatusCode::kUnavailable);
  EXPECT_EQ(PgCodeFor("53100"), StatusCode::kResourceExhausted);
  EXPECT_EQ(PgCodeFor("57014"), StatusCode::kCancelled);
  EXPECT_EQ(PgCodeFor("28P01"), StatusCode::kPermissionDenied);
  EXPECT_EQ(PgCodeFor("42501"), StatusCode::kPermissionDenied);
  EXPECT_EQ(PgCodeFor("3D000"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(PgCodeFor("XX001"), StatusCode::kDataLoss);
  EXPECT_EQ(PgCodeFor("42601"), StatusCode::kInternal);
  EXPECT_EQ(PgCodeFor(""), StatusCode::kInternal);
  EXPECT_EQ(PgCodeFor("2350"), StatusCode::kInternal);
}

TEST_F(PgConnectionTest, ConnectsWithThePasswordFileInUtf8) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  std::string encoding;
  std::string user;
  Status s = connection->Query("SELECT current_setting('client_encoding'), current_user", {},
                               "read the session", [&](const PgRow& row) {
                                 encoding = row.Text(0);
                                 user = row.Text(1);
                               });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(encoding, "UTF8");
  EXPECT_EQ(user, server_->user());
  EXPECT_FALSE(connection->broken());
}

TEST_F(PgConnectionTest, TakesAPasswordFileWithItsNewline) {
  auto file = PasswordFile("password", server_->password() + "\r\nsecond line\n");
  auto connection = PgConnection::Open(server_->ConnectionString(), file);
  EXPECT_TRUE(connection.ok()) << connection.status().ToString();
}

TEST_F(PgConnectionTest, RefusesAPasswordFileOthersMayRead) {
  for (mode_t mode : {0644, 0640, 0604, 0620}) {
    auto file = PasswordFile("password", server_->password(), mode);
    auto connection = PgConnection::Open(server_->ConnectionString(), file);
    ASSERT_FALSE(connection.ok()) << std::oct << mode;
    EXPECT_EQ(connection.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(connection.status().message().find(file.string()), std::string::npos)
        << connection.status().message();
    EXPECT_NE(connection.status().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(connection.status().message().find(server_->password()), std::string::npos);
  }
}

TEST_F(PgConnectionTest, RefusesAPasswordFileThatIsALinkOrMissingOrEmpty) {
  auto target = PasswordFile("password", server_->password());
  const std::filesystem::path link = dir_ / "link";
  std::filesystem::create_symlink(target, link);
  auto through_link = PgConnection::Open(server_->ConnectionString(), link);
  ASSERT_FALSE(through_link.ok());
  EXPECT_EQ(through_link.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(through_link.status().message().find("symbolic link"), std::string::npos);
  EXPECT_NE(through_link.status().message().find(link.string()), std::string::npos);

  auto missing = PgConnection::Open(server_->ConnectionString(), dir_ / "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find((dir_ / "missing").string()), std::string::npos);

  auto empty = PgConnection::Open(server_->ConnectionString(), PasswordFile("empty", "\n"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("holds no password"), std::string::npos);

  auto folder = PgConnection::Open(server_->ConnectionString(), dir_.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.status().message().find("not a regular file"), std::string::npos)
      << folder.status().message();
}

TEST_F(PgConnectionTest, AWrongPasswordIsDeniedWithoutShowingIt) {
  const std::string wrong = "Wr0ng-Pa55word-7319";
  auto from_file = PgConnection::Open(server_->ConnectionString(), PasswordFile("wrong", wrong));
  ASSERT_FALSE(from_file.ok());
  EXPECT_EQ(from_file.status().code(), StatusCode::kPermissionDenied)
      << from_file.status().ToString();
  EXPECT_NE(from_file.status().message().find("password authentication failed"), std::string::npos)
      << from_file.status().message();
  EXPECT_EQ(from_file.status().message().find(wrong), std::string::npos);

  auto in_string =
      PgConnection::Open(server_->ConnectionString() + " password=" + wrong, std::nullopt);
  ASSERT_FALSE(in_string.ok());
  EXPECT_EQ(in_string.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(in_string.status().message().find(wrong), std::string::npos);

  auto none = PgConnection::Open(server_->ConnectionString(), std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(none.status().message().find("give a password file"), std::string::npos)
      << none.status().message();
}

TEST_F(PgConnectionTest, ABadConnectionStringIsInvalidWithoutShowingAPasswordInIt) {
  const std::string secret = "S3cret-In-Uri-5501";
  auto uri = PgConnection::Open(
      "postgresql://propbridge:" + secret + "@[::1:" + std::to_string(server_->port()) + "/db",
      std::nullopt);
  ASSERT_FALSE(uri.ok());
  EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(uri.status().message().find(secret), std::string::npos) << uri.status().message();

  auto keywords =
      PgConnection::Open("host=127.0.0.1 password=" + secret + " trailing", std::nullopt);
  ASSERT_FALSE(keywords.ok());
  EXPECT_EQ(keywords.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keywords.status().message().find(secret), std::string::npos);

  auto unknown = PgConnection::Open("host=127.0.0.1 colour=blue", std::nullopt);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("colour"), std::string::npos)
      << unknown.status().message();
}

TEST_F(PgConnectionTest, ANonexistentDatabaseIsAFailedPrecondition) {
  auto connection =
      PgConnection::Open(server_->ConnectionString("no_such_store"), server_->password_file());
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kFailedPrecondition)
      << connection.status().ToString();
  EXPECT_NE(connection.status().message().find("no_such_store"), std::string::npos);
}

TEST_F(PgConnectionTest, RefusesADatabaseNotInUtf8) {
  auto admin = server_->Connect("postgres");
  ASSERT_NE(admin, nullptr);
  testing::PgResult created(PQexec(admin.get(),
                                   "CREATE DATABASE latin ENCODING 'LATIN1' TEMPLATE template0 "
                                   "LC_COLLATE 'C' LC_CTYPE 'C'"),
                            &PQclear);
  ASSERT_EQ(PQresultStatus(created.get()), PGRES_COMMAND_OK) << PQerrorMessage(admin.get());
  auto connection =
      PgConnection::Open(server_->ConnectionString("latin"), server_->password_file());
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(connection.status().message().find("LATIN1"), std::string::npos)
      << connection.status().message();
}

TEST_F(PgConnectionTest, ANonexistentServerIsUnavailable) {
  const std::string connection_string = server_->ConnectionString() + " connect_timeout=5";
  server_->Kill();
  auto connection = PgConnection::Open(connection_string, server_->password_file());
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kUnavailable) << connection.status().ToString();
}

TEST_F(PgConnectionTest, ParametersRoundTrip) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection,
       "CREATE TABLE t (id integer PRIMARY KEY, n bigint, s text, b bytea, f boolean, at bigint)");
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte += static_cast<char>(i);
  const std::string unicode = "3栋2单元1202 Zoë Ağaoğlu 🏠 \t\\ \"quoted\" 'single'";
  const PgTime at = PgTime(microseconds(1'700'000'000'123'456));
  struct Row {
    std::int64_t id;
    std::optional<std::int64_t> n;
    std::optional<std::string> s;
    std::optional<std::string> b;
    std::optional<bool> f;
    std::optional<PgTime> at;
  };
  const std::vector<Row> rows = {
      {1, std::numeric_limits<std::int64_t>::min(), "", "", false, PgTime(microseconds(0))},
      {2, std::numeric_limits<std::int64_t>::max(), unicode, every_byte, true, at},
      {3, -1, "x", std::string("\0\0", 2), true, PgTime(microseconds(-1))},
      {4, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
  for (const Row& row : rows) {
    std::optional<PgBytes> bytes;
    if (row.b) bytes = PgBytes{*row.b};
    auto inserted =
        connection->Exec("INSERT INTO t (id, n, s, b, f, at) VALUES ($1, $2, $3, $4, $5, $6)",
                         {row.id, PgNullable(row.n), PgNullable(row.s), PgNullable(bytes),
                          PgNullable(row.f), PgNullable(row.at)},
                         "insert");
    ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
    EXPECT_EQ(*inserted, 1);
  }
  std::vector<Row> read;
  Status s = connection->Query("SELECT id, n, s, b, f, at FROM t ORDER BY id", {}, "read",
                               [&](const PgRow& row) {
                                 Row& r = read.emplace_back();
                                 r.id = row.Int64(0);
                                 r.n = row.OptionalInt64(1);
                                 if (!row.IsNull(2)) r.s = std::string(row.Text(2));
                                 if (!row.IsNull(3)) r.b = std::string(row.Bytes(3));
                                 if (!row.IsNull(4)) r.f = row.Bool(4);
                                 r.at = row.OptionalTime(5);
                               });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(read.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(rows[i].id));
    EXPECT_EQ(read[i].id, rows[i].id);
    EXPECT_EQ(read[i].n, rows[i].n);
    EXPECT_EQ(read[i].s, rows[i].s);
    EXPECT_EQ(read[i].b, rows[i].b);
    EXPECT_EQ(read[i].f, rows[i].f);
    EXPECT_EQ(read[i].at, rows[i].at);
  }

  // Parameters compare with columns of other integer widths, and the same statement runs
  // again with NULL where it had a value.
  std::vector<std::int64_t> ids;
  for (std::optional<std::int64_t> n :
       {std::optional<std::int64_t>(-1), std::optional<std::int64_t>()}) {
    s = connection->Query("SELECT id FROM t WHERE id = $1 OR n = $2",
                          {std::int64_t{1}, PgNullable(n)}, "select",
                          [&](const PgRow& row) { ids.push_back(row.Int64(0)); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 3, 1}));
}

TEST_F(PgConnectionTest, RefusesTextPostgresqlCannotHold) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  const std::string with_nul("a\0b", 3);
  auto nul = connection->Exec("SELECT $1::text", {std::string_view(with_nul)}, "select NUL");
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nul.status().message().find("$1"), std::string::npos) << nul.status().message();
  EXPECT_NE(nul.status().message().find("NUL"), std::string::npos);

  auto latin1 =
      connection->Exec("SELECT $1::text, $2::text", {"fine", "caf\xe9"}, "select Latin-1");
  ASSERT_FALSE(latin1.ok());
  EXPECT_EQ(latin1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(latin1.status().message().find("$2 is not valid UTF-8"), std::string::npos)
      << latin1.status().message();

  // The same bytes go as bytea, and the connection goes on.
  std::string back;
  Status s = connection->Query("SELECT $1::bytea", {PgBytes{with_nul}}, "bytea",
                               [&](const PgRow& row) { back = row.Bytes(0); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(back, with_nul);
}

// Arrays make one statement of any number of values: as `= ANY($1)` and through unnest.
TEST_F(PgConnectionTest, ArraysOfTextAndBigintsRoundTrip) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  const std::vector<std::string_view> texts = {"", "3栋2单元1202 🏠", "tab\tand \"quote\"", "{,}",
                                               "NULL"};
  const std::vector<std::int64_t> numbers = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                             std::numeric_limits<std::int64_t>::max()};
  std::vector<std::pair<std::int64_t, std::string>> read;
  Status s = connection->Query(
      "SELECT n, t FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(n, t, i) ORDER BY i",
      {PgInt64Array{numbers}, PgTextArray{texts}}, "unnest",
      [&](const PgRow& row) { read.emplace_back(row.Int64(0), row.Text(1)); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(read.size(), texts.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].first, numbers[i]);
    EXPECT_EQ(read[i].second, texts[i]);
  }

  std::int64_t count = -1;
  for (std::span<const std::string_view> values :
       {std::span<const std::string_view>(), std::span<const std::string_view>(texts)}) {
    s = connection->Query("SELECT count(*) FROM unnest($1::text[]) WHERE 'NULL' = ANY($1)",
                          {PgTextArray{values}}, "empty",
                          [&](const PgRow& row) { count = row.Int64(0); });
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(count, static_cast<std::int64_t>(values.size()));
  }

  const std::vector<std::string_view> latin1 = {"fine", "caf\xe9"};
  auto refused = connection->Exec("SELECT $1::text[]", {PgTextArray{latin1}}, "Latin-1");
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("$1 is not valid UTF-8"), std::string::npos)
      << refused.status().message();

  Exec(*connection, "CREATE TABLE t (n bigint[])");
  auto copy = connection->CopyIn("t", {"n"}, "copy an array");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->AddRow({PgInt64Array{numbers}}).code(), StatusCode::kInvalidArgument);
  auto copied = copy->Finish();
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(*copied, 0);
}

// A statement cancelled from another thread fails with CANCELLED at once, and the connection
// takes the next one.
TEST_F(PgConnectionTest, AStatementCancelledFromAnotherThreadIsCancelled) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  connection->Cancel();  // nothing runs: nothing happens
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    connection->Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto slept = connection->Exec("SELECT pg_sleep(30)", {}, "sleep");
  canceller.join();
  EXPECT_EQ(slept.status().code(), StatusCode::kCancelled) << slept.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto next = connection->Exec("SELECT 1", {}, "after the cancel");
  EXPECT_TRUE(next.ok()) << next.status().ToString();
}

TEST_F(PgConnectionTest, ReadingAColumnAsAnotherTypeFailsTheQuery) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Status as_integer = connection->Query("SELECT 'seven'::text AS word", {}, "read a word",
                                        [&](const PgRow& row) { EXPECT_EQ(row.Int64(0), 0); });
  EXPECT_EQ(as_integer.code(), StatusCode::kInternal);
  EXPECT_NE(as_integer.message().find("word"), std::string::npos) << as_integer.message();

  Status missing = connection->Query("SELECT 1", {}, "read two columns",
                                     [&](const PgRow& row) { row.Int64(1); });
  EXPECT_EQ(missing.code(), StatusCode::kInternal);

  Status stopped = connection->Query("SELECT generate_series(1, 5)", {}, "stop early",
                                     [&](const PgRow& row) -> Status {
                                       if (row.Int64(0) == 2) return NotFound("two");
                                       return Status::Ok();
                                     });
  EXPECT_EQ(stopped.code(), StatusCode::kNotFound);
}

TEST_F(PgConnectionTest, AUniqueViolationIsAlreadyExistsWithoutTheValue) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection, "CREATE TABLE phones (phone text PRIMARY KEY)");
  const std::string phone = "13800138000";
  auto first = connection->Exec("INSERT INTO phones VALUES ($1)", {phone}, "insert a phone");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = connection->Exec("INSERT INTO phones VALUES ($1)", {phone}, "insert a phone");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_NE(second.status().message().find("insert a phone"), std::string::npos);
  EXPECT_NE(second.status().message().find("23505"), std::string::npos);
  EXPECT_EQ(second.status().message().find(phone), std::string::npos) << second.status().message();
}

TEST_F(PgConnectionTest, TransactionsCommitAndRollBack) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection, "CREATE TABLE t (id bigint PRIMARY KEY)");
  auto insert = [&](std::int64_t id) {
    return connection->Exec("INSERT INTO t VALUES ($1)", {id}, "insert").status();
  };

  EXPECT_TRUE(connection->Transaction([&] { return insert(1); }, "commit").ok());
  Status refused = connection->Transaction(
      [&]() -> Status {
        EXPECT_TRUE(insert(2).ok());
        // Prepared here first, and still prepared after the rollback.
        EXPECT_EQ(Count(*connection, "t"), 2);
        return Unavailable("the caller gave up");
      },
      "roll back");
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Count(*connection, "t"), 1);

  // A failed statement whose error the body drops still rolls the transaction back.
  Status dropped = connection->Transaction(
      [&]() -> Status {
        EXPECT_TRUE(insert(3).ok());
        EXPECT_EQ(insert(1).code(), StatusCode::kAlreadyExists);
        return Status::Ok();
      },
      "drop an error");
  EXPECT_EQ(dropped.code(), StatusCode::kAborted) << dropped.ToString();
  EXPECT_EQ(Count(*connection, "t"), 1);

  Status nested = connection->Transaction(
      [&] { return connection->Transaction([&] { return insert(4); }, "inner"); }, "outer");
  EXPECT_EQ(nested.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count(*connection, "t"), 1);

  EXPECT_EQ(connection->Savepoint([&] { return insert(5); }, "outside").code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(PgConnectionTest, ASavepointKeepsTheTransactionGoingPastAFailedStatement) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection, "CREATE TABLE t (id bigint PRIMARY KEY)");
  auto insert = [&](std::int64_t id) {
    return connection->Exec("INSERT INTO t VALUES ($1)", {id}, "insert").status();
  };
  std::vector<StatusCode> codes;
  Status s = connection->Transaction(
      [&]() -> Status {
        for (std::int64_t id : {1, 2, 1, 3, 2}) {
          codes.push_back(connection->Savepoint([&] { return insert(id); }, "insert one").code());
        }
        // Nested: the inner one fails, the outer one keeps what came before it.
        codes.push_back(
            connection
                ->Savepoint(
                    [&]() -> Status {
                      if (Status s = insert(4); !s.ok()) return s;
                      return connection->Savepoint([&] { return insert(4); }, "again").ok()
                                 ? Internal("a duplicate went in")
                                 : Status::Ok();
                    },
                    "outer")
                .code());
        return Status::Ok();
      },
      "insert with savepoints");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(codes, (std::vector<StatusCode>{StatusCode::kOk, StatusCode::kOk,
                                            StatusCode::kAlreadyExists, StatusCode::kOk,
                                            StatusCode::kAlreadyExists, StatusCode::kOk}));
  EXPECT_EQ(Count(*connection, "t"), 4);
}

TEST_F(PgConnectionTest, ASerializationFailureIsAborted) {
  auto first = Connect();
  auto second = Connect();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  Exec(*first, "CREATE TABLE t (id bigint PRIMARY KEY, n bigint NOT NULL)");
  Exec(*first, "INSERT INTO t VALUES (1, 0)");
  Status s = first->Transaction(
      [&]() -> Status {
        EXPECT_EQ(Count(*first, "t"), 1);  // takes the snapshot
        EXPECT_TRUE(second->Exec("UPDATE t SET n = n + 1", {}, "update from the second").ok());
        return first->Exec("UPDATE t SET n = n + 10", {}, "update from the first").status();
      },
      "repeatable read", PgIsolation::kRepeatableRead);
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("40001"), std::string::npos) << s.message();
}

TEST_F(PgConnectionTest, ManyDistinctStatementsOutgrowThePreparedOnes) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  for (int round = 0; round < 2; ++round) {
    for (std::int64_t i = 0; i < 600; ++i) {
      std::int64_t back = -1;
      Status s = connection->Query("SELECT $1::bigint + " + std::to_string(i), {i}, "add",
                                   [&](const PgRow& row) { back = row.Int64(0); });
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(back, 2 * i);
    }
  }
}

// Text with every character COPY's text format treats specially, and some it does not.
std::string AwkwardText(std::mt19937_64& random, int i) {
  static const std::vector<std::string> kPieces = {
      "\t",   "\n",   "\r",           "\\", "\\N", "\\.", "\\t", "N",  ".", "\r\n",
      "\x01", "\x7f", "3栋2单元1202", "🏠",  "é",   " ",   "'",   "\"", ",", "plain"};
  std::string text = std::to_string(i);
  const int length = static_cast<int>(random() % 12);
  for (int j = 0; j < length; ++j) text += kPieces[random() % kPieces.size()];
  return text;
}

TEST_F(PgConnectionTest, CopyRoundTripsTenThousandAwkwardRowsExactly) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection,
       "CREATE TABLE t (id bigint PRIMARY KEY, s text, b bytea, f boolean, at bigint, n bigint)");
  struct Row {
    std::string s;
    std::optional<std::string> b;
    bool f;
    std::optional<std::int64_t> n;
  };
  std::mt19937_64 random(7);
  std::vector<Row> rows;
  constexpr int kRows = 10'000;
  for (int i = 0; i < kRows; ++i) {
    Row row;
    row.s = AwkwardText(random, i);
    if (i % 7 != 0) {
      row.b.emplace();
      for (std::uint64_t j = random() % 40; j > 0; --j) *row.b += static_cast<char>(random());
    }
    row.f = i % 2 == 0;
    if (i % 5 != 0) row.n = static_cast<std::int64_t>(random());
    rows.push_back(std::move(row));
  }
  rows[1].s = "";
  rows[2].s = "\\N";
  rows[3].n = std::numeric_limits<std::int64_t>::min();

  auto copy = connection->CopyIn("t", {"id", "s", "b", "f", "at", "n"}, "copy rows");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  for (int i = 0; i < kRows; ++i) {
    const Row& row = rows[static_cast<std::size_t>(i)];
    std::optional<PgBytes> bytes;
    if (row.b) bytes = PgBytes{*row.b};
    Status s = copy->AddRow({std::int64_t{i}, row.s, PgNullable(bytes), row.f,
                             PgTime(microseconds(i) * 1000), PgNullable(row.n)});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // A row COPY cannot carry is refused alone, and the COPY goes on.
  Status latin1 = copy->AddRow(
      {std::int64_t{kRows}, "caf\xe9", std::monostate{}, false, PgTime(), std::monostate{}});
  EXPECT_EQ(latin1.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(latin1.message().find("column 2"), std::string::npos) << latin1.message();
  EXPECT_EQ(copy->AddRow({std::int64_t{1}}).code(), StatusCode::kInvalidArgument);
  // Nothing else runs while the COPY does.
  EXPECT_EQ(connection->Exec("SELECT 1", {}, "meanwhile").status().code(),
            StatusCode::kFailedPrecondition);
  auto copied = copy->Finish();
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(*copied, kRows);

  int i = 0;
  Status s = connection->Query("SELECT id, s, b, f, at, n FROM t ORDER BY id", {}, "read",
                               [&](const PgRow& row) {
                                 ASSERT_LT(i, kRows);
                                 const Row& expected = rows[static_cast<std::size_t>(i)];
                                 EXPECT_EQ(row.Int64(0), i);
                                 EXPECT_EQ(row.Text(1), expected.s) << "row " << i;
                                 EXPECT_EQ(row.IsNull(2), !expected.b.has_value()) << "row " << i;
                                 EXPECT_EQ(row.Bytes(2), expected.b.value_or("")) << "row " << i;
                                 EXPECT_EQ(row.Bool(3), expected.f);
                                 EXPECT_EQ(row.Time(4), PgTime(microseconds(i) * 1000));
                                 EXPECT_EQ(row.OptionalInt64(5), expected.n) << "row " << i;
                                 ++i;
                               });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(i, kRows);
}

TEST_F(PgConnectionTest, ACopyWithADuplicateOrAbandonedStoresNothing) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection, "CREATE TABLE t (id bigint PRIMARY KEY)");
  {
    auto copy = connection->CopyIn("t", {"id"}, "copy with a duplicate");
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    for (std::int64_t id : {1, 2, 3, 2, 4}) ASSERT_TRUE(copy->AddRow({id}).ok());
    auto copied = copy->Finish();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().code(), StatusCode::kAlreadyExists) << copied.status().ToString();
  }
  EXPECT_EQ(Count(*connection, "t"), 0);
  {
    auto copy = connection->CopyIn("t", {"id"}, "copy abandoned");
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    for (std::int64_t id : {1, 2, 3}) ASSERT_TRUE(copy->AddRow({id}).ok());
  }
  EXPECT_EQ(Count(*connection, "t"), 0);

  auto unknown = connection->CopyIn("no_such_table", {"id"}, "copy into nothing");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no_such_table"), std::string::npos);
  EXPECT_EQ(Count(*connection, "t"), 0);
}

TEST_F(PgConnectionTest, ACopyInATransactionCommitsWithIt) {
  auto connection = Connect();
  ASSERT_NE(connection, nullptr);
  Exec(*connection, "CREATE TABLE t (id bigint PRIMARY KEY)");
  auto copy_then = [&](Status after) {
    return connection->Transaction(
        [&]() -> Status {
          auto copy = connection->CopyIn("t", {"id"}, "copy");
          if (!copy.ok()) return copy.status();
          for (std::int64_t id : {1, 2, 3}) {
            if (Status s = copy->AddRow({id}); !s.ok()) return s;
          }
          if (auto copied = copy->Finish(); !copied.ok()) return copied.status();
          return after;
        },
        "copy in a transaction");
  };
  EXPECT_EQ(copy_then(Internal("changed its mind")).code(), StatusCode::kInternal);
  EXPECT_EQ(Count(*connection, "t"), 0);
  EXPECT_TRUE(copy_then(Status::Ok()).ok());
  EXPECT_EQ(Count(*connection, "t"), 3);
}

TEST_F(PgConnectionTest, AKilledServerIsUnavailableNotACrash) {
  auto idle = Connect();
  auto in_transaction = Connect();
  auto copying = Connect();
  ASSERT_NE(idle, nullptr);
  ASSERT_NE(in_transaction, nullptr);
  ASSERT_NE(copying, nullptr);
  Exec(*idle, "CREATE TABLE t (id bigint PRIMARY KEY)");
  auto copy = copying->CopyIn("t", {"id"}, "copy");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  ASSERT_TRUE(copy->AddRow({std::int64_t{1}}).ok());

  Status commit = in_transaction->Transaction(
      [&]() -> Status {
        if (auto inserted = in_transaction->Exec("INSERT INTO t VALUES (2)", {}, "insert");
            !inserted.ok()) {
          return inserted.status();
        }
        server_->Kill();
        return Status::Ok();
      },
      "commit after the kill");
  EXPECT_EQ(commit.code(), StatusCode::kUnavailable) << commit.ToString();
  EXPECT_NE(commit.message().find("unknown"), std::string::npos) << commit.message();
  EXPECT_TRUE(in_transaction->broken());

  auto select = idle->Exec("SELECT 1", {}, "select after the kill");
  EXPECT_EQ(select.status().code(), StatusCode::kUnavailable) << select.status().ToString();
  EXPECT_TRUE(idle->broken());
  EXPECT_EQ(idle->Transaction([] { return Status::Ok(); }, "begin after the kill").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(idle->CopyIn("t", {"id"}, "copy after the kill").status().code(),
            StatusCode::kUnavailable);

  // However much the COPY still sends, it ends UNAVAILABLE.
  Status sent;
  for (std::int64_t id = 2; sent.ok() && id < 200'000; ++id) sent = copy->AddRow({id});
  auto finished = copy->Finish();
  EXPECT_EQ(finished.status().code(), StatusCode::kUnavailable) << finished.status().ToString();
  EXPECT_TRUE(copying->broken());

  ASSERT_TRUE(server_->Restart());
  auto again = Connect();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Count(*again, "t"), 0);
}

}  // namespace
}  // namespace propbridge::store
