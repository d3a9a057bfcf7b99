#include "tests/support/postgres_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

namespace propbridge::testing {
namespace {

std::unique_ptr<PostgresServer> StartServer() {
  std::string error;
  std::unique_ptr<PostgresServer> server = PostgresServer::Start(error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

// Runs `sql` with `parameters` for $1, $2, ... as text; a statement that fails fails the test.
PgResult Exec(PGconn* connection, const std::string& sql,
              const std::vector<std::string>& parameters = {}) {
  std::vector<const char*> values;
  for (const std::string& parameter : parameters) values.push_back(parameter.c_str());
  PgResult result(PQexecParams(connection, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0),
                  &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      << sql << ": " << PQerrorMessage(connection);
  return result;
}

// The first column of every row.
std::vector<std::string> Column(PGconn* connection, const std::string& sql) {
  PgResult result = Exec(connection, sql);
  std::vector<std::string> values;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    values.emplace_back(PQgetvalue(result.get(), row, 0));
  }
  return values;
}

const std::vector<std::string> kUnits = {"3栋2单元1202", "Bldg 3 Unit 2 #1202", "Zoë Ağaoğlu 🏠"};

void WriteUnits(PGconn* connection) {
  Exec(connection, "CREATE TABLE units (id integer PRIMARY KEY, name text NOT NULL)");
  for (std::size_t i = 0; i < kUnits.size(); ++i) {
    Exec(connection, "INSERT INTO units VALUES ($1, $2)", {std::to_string(i), kUnits[i]});
  }
}

std::vector<std::string> ReadUnits(PGconn* connection) {
  return Column(connection, "SELECT name FROM units ORDER BY id");
}

TEST(PostgresServerTest, StoresAndReadsBackUtf8Text) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  PgConnection connection = server->Connect();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(Column(connection.get(), "SHOW server_encoding"), std::vector<std::string>{"UTF8"});
  EXPECT_EQ(Column(connection.get(), "SELECT current_database()"),
            std::vector<std::string>{server->database()});

  WriteUnits(connection.get());
  EXPECT_EQ(ReadUnits(connection.get()), kUnits);
  // Characters, not bytes: the server reads the text as UTF-8.
  EXPECT_EQ(Column(connection.get(), "SELECT length(name) FROM units WHERE id = 0"),
            std::vector<std::string>{"9"});
}

TEST(PostgresServerTest, CommittedRowsSurviveARestart) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  WriteUnits(server->Connect().get());

  ASSERT_TRUE(server->Restart());
  EXPECT_EQ(server->port(), port);
  PgConnection connection = server->Connect();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(ReadUnits(connection.get()), kUnits);
}

TEST(PostgresServerTest, CommittedRowsSurviveAKill) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  WriteUnits(server->Connect().get());
  const pid_t postmaster = server->pid();

  server->Kill();
  EXPECT_EQ(server->pid(), 0);
  EXPECT_NE(kill(postmaster, 0), 0);
  EXPECT_EQ(PQping(server->ConnectionString().c_str()), PQPING_NO_RESPONSE);

  ASSERT_TRUE(server->Restart());
  PgConnection connection = server->Connect();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(ReadUnits(connection.get()), kUnits);
  EXPECT_NE(server->Log().find("database system was interrupted"), std::string::npos)
      << "the start after Kill() should have recovered:\n"
      << server->Log();
}

TEST(PostgresServerTest, TwoServersRunAtOnce) {
  auto first = StartServer();
  auto second = StartServer();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->port(), second->port());

  WriteUnits(first->Connect().get());
  PgConnection connection = second->Connect();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(Column(connection.get(), "SELECT to_regclass('units') IS NULL"),
            std::vector<std::string>{"t"});
}

TEST(PostgresServerTest, CreatesFurtherDatabases) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->CreateDatabase("second store"));
  EXPECT_FALSE(server->CreateDatabase("second store"));

  PgConnection connection = server->Connect("second store");
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(Column(connection.get(), "SELECT current_database()"),
            std::vector<std::string>{"second store"});
  EXPECT_EQ(server->ConnectionString().find(server->password()), std::string::npos);
}

TEST(PostgresServerTest, RunsUnprivilegedAndEndsWithTheFixture) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const pid_t postmaster = server->pid();
  struct stat process {};
  ASSERT_EQ(stat(("/proc/" + std::to_string(postmaster)).c_str(), &process), 0);
  EXPECT_NE(process.st_uid, 0u);
  const std::string connection_string = server->ConnectionString();
  const std::filesystem::path folder = server->password_file().parent_path();

  server.reset();
  EXPECT_NE(kill(postmaster, 0), 0);
  EXPECT_EQ(PQping(connection_string.c_str()), PQPING_NO_RESPONSE);
  EXPECT_FALSE(std::filesystem::exists(folder));
}

}  // namespace
}  // namespace propbridge::testing
