// Tokens, certificate subjects and callers, and the [api.tls] and [api.auth] configuration
// with real certificate files.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "daemon/auth/authenticator.h"
#include "daemon/auth/personal_data.h"
#include "daemon/auth/token.h"
#include "daemon/config/config.h"
#include "tests/auth/test_certificates.h"
#include "tests/support/temp_dir.h"

namespace propbridge {
namespace {

using auth::Role;
using auth::SubjectField;

TEST(Token, IsNew43Base64UrlCharactersEveryTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto token = auth::NewToken();
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 43u);
    EXPECT_EQ(token->find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << *token;
    EXPECT_TRUE(seen.insert(*token).second);
  }
}

TEST(Token, HashIsSha256InHex) {
  EXPECT_EQ(auth::ToHex(auth::HashToken("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto parsed =
      auth::ParseSha256Hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(auth::SameHash(*parsed, auth::HashToken("abc")));
  EXPECT_FALSE(auth::SameHash(*parsed, auth::HashToken("abd")));
  EXPECT_FALSE(auth::ParseSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(auth::ParseSha256Hex(std::string(65, 'a')));
  EXPECT_FALSE(auth::ParseSha256Hex(std::string(63, 'a') + "g"));
}

TEST(Sha256Hasher, PartsHashAsTheWhole) {
  auth::Sha256Hasher empty;
  EXPECT_EQ(auth::ToHex(empty.Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auth::Sha256Hasher parts;
  for (std::string_view part : {"a", "", "bc"}) parts.Add(part);
  auth::Sha256Hasher moved = std::move(parts);
  EXPECT_EQ(auth::ToHex(moved.Finish()), auth::ToHex(auth::HashToken("abc")));
}

TEST(Subject, ReadsTheCommonNameAndEachAlternativeName) {
  EXPECT_EQ(*auth::ParseSubject("CN=frontdesk"),
            std::pair(SubjectField::kCommonName, std::string("frontdesk")));
  EXPECT_EQ(*auth::ParseSubject("DNS:app.example.com"),
            std::pair(SubjectField::kDns, std::string("app.example.com")));
  EXPECT_EQ(*auth::ParseSubject("URI:spiffe://pm/crm"),
            std::pair(SubjectField::kUri, std::string("spiffe://pm/crm")));
  EXPECT_EQ(*auth::ParseSubject("email:it@example.com"),
            std::pair(SubjectField::kEmail, std::string("it@example.com")));
  EXPECT_EQ(*auth::ParseSubject("IP:10.0.0.7"),
            std::pair(SubjectField::kIp, std::string("10.0.0.7")));
  for (const char* wrong : {"frontdesk", "CN=", "cn=frontdesk", "O=Sunshine", ""}) {
    EXPECT_FALSE(auth::ParseSubject(wrong).ok()) << wrong;
  }
}

auth::AuthRules Rules() {
  auth::AuthRules rules;
  rules.tokens.push_back({"crm", auth::HashToken("crm-token"), Role::kReader, false});
  rules.tokens.push_back({"ops", auth::HashToken("ops-token"), Role::kOperator, true});
  rules.certificates.push_back(
      {"desk", SubjectField::kCommonName, "frontdesk", Role::kReader, true});
  rules.certificates.push_back(
      {"console", SubjectField::kDns, "ops.example.com", Role::kAdmin, true});
  return rules;
}

TEST(Masking, PhoneNumbersKeepTheirFirstThreeAndLastFourDigits) {
  EXPECT_EQ(auth::MaskValue("13800138000"), "138****8000");
  EXPECT_EQ(auth::MaskValue("+86 138-0013-8000"), "861******8000");
  EXPECT_EQ(auth::MaskValue("0755-8888 1234"), "075*****1234");
  EXPECT_EQ(auth::MaskValue("5551234"), "5*****4");  // short numbers hide more
  EXPECT_EQ(auth::MaskPhoneNumbers("Call 13800138000 about unit 1202, or 88881234."),
            "Call 138****8000 about unit 1202, or 88****34.");
  EXPECT_EQ(auth::MaskPhoneNumbers("no number here"), "no number here");
}

TEST(Masking, NamesAndAddressesKeepTheirFirstCharacter) {
  EXPECT_EQ(auth::MaskValue("张三丰"), "张**");
  EXPECT_EQ(auth::MaskValue("Li Wei"), "L*****");
  EXPECT_EQ(auth::MaskValue("li.wei@example.com"), "l*****@example.com");
  EXPECT_EQ(auth::MaskValue("王"), "王");
  EXPECT_EQ(auth::MaskValue(""), "");
  // A byte that is not UTF-8 counts as a character of its own.
  EXPECT_EQ(auth::MaskValue("\xff\xfe"), "\xff*");
}

TEST(Masking, IdentifiersOfPersonalTypesOnly) {
  auth::PersonalDataRules rules;
  EXPECT_EQ(auth::MaskIdentifier("phone:13800138000", rules), "phone:138****8000");
  EXPECT_EQ(auth::MaskIdentifier("account:A-1001", rules), "account:A-1001");
  EXPECT_EQ(auth::MaskIdentifier("customer:42", rules), "customer:42");
  EXPECT_EQ(auth::MaskIdentifier("13800138000", rules), "138****8000");
}

TEST(Authenticator, FindsTheCallerOfAToken) {
  auth::Authenticator authenticator(Rules());
  const auth::CallerIdentity* crm = authenticator.ByToken("crm-token");
  ASSERT_NE(crm, nullptr);
  EXPECT_EQ(crm->Describe(), "token crm");
  EXPECT_EQ(crm->role, Role::kReader);
  EXPECT_FALSE(crm->personal_data);
  EXPECT_EQ(authenticator.ByToken("ops-token")->role, Role::kOperator);
  EXPECT_EQ(authenticator.ByToken("crm-token "), nullptr);
  EXPECT_EQ(authenticator.ByToken(""), nullptr);
}

TEST(Authenticator, FindsTheCallerOfACertificateByCommonNameOrAlternativeName) {
  auth::Authenticator authenticator(Rules());
  auto desk = authenticator.ByCertificate({"frontdesk", {}});
  ASSERT_TRUE(desk.ok());
  EXPECT_EQ((*desk)->Describe(), "certificate desk");
  auto console =
      authenticator.ByCertificate({"console-7", {{SubjectField::kDns, "ops.example.com"}}});
  ASSERT_TRUE(console.ok());
  EXPECT_EQ((*console)->role, Role::kAdmin);
  // A URI that reads like the DNS name is another name.
  auto other = authenticator.ByCertificate({"x", {{SubjectField::kUri, "ops.example.com"}}});
  EXPECT_EQ(other.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(other.status().message().find("CN=x, URI:ops.example.com"), std::string::npos)
      << other.status().message();
  auto both = authenticator.ByCertificate({"frontdesk", {{SubjectField::kDns, "ops.example.com"}}});
  EXPECT_EQ(both.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(both.status().message().find("more than one"), std::string::npos);
}

TEST(Authenticator, WithoutRulesEveryoneIsAnAdminWithPersonalData) {
  auth::Authenticator authenticator(auth::AuthRules{});
  EXPECT_FALSE(authenticator.enabled());
  EXPECT_EQ(auth::Authenticator::Anyone().role, Role::kAdmin);
  EXPECT_TRUE(auth::Authenticator::Anyone().personal_data);
  EXPECT_TRUE(auth::Authenticator(Rules()).enabled());
}

class SecurityConfig : public ::testing::Test {
 protected:
  SecurityConfig() : certificates_(testing::TestCertificates::Make(dir_.path())) {}

  Result<config::Config> Parse(const std::string& tables,
                               const std::string& listen = "127.0.0.1:0") {
    return config::ParseConfig("listen = \"" + listen + "\"\ndata_dir = \"data\"\n" + tables,
                               dir_ / "propbridged.toml");
  }
  std::string ErrorOf(const std::string& tables, const std::string& listen = "127.0.0.1:0") {
    auto config = Parse(tables, listen);
    EXPECT_FALSE(config.ok());
    return config.ok() ? "" : config.status().message();
  }
  std::string Tls(const std::filesystem::path& key, const std::string& more = "") {
    return "[api.tls]\ncert_file = \"" + certificates_.server.cert.string() + "\"\nkey_file = \"" +
           key.string() + "\"\n" + more;
  }

  testing::TempDir dir_;
  testing::TestCertificates certificates_;
  const std::string hash_ = auth::ToHex(auth::HashToken("secret"));
};

TEST_F(SecurityConfig, ReadsTlsTokensAndCertificates) {
  auto config = Parse(Tls(certificates_.server.key,
                          "client_ca_file = \"ca.crt\"\n"
                          "[api.auth.tokens.crm-app]\nrole = \"reader\"\nsha256 = \"" +
                              hash_ +
                              "\"\npersonal_data = false\n"
                              "[api.auth.certificates.frontdesk]\nsubject = \"CN=frontdesk\"\n"
                              "role = \"operator\"\n"),
                      "0.0.0.0:50051");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_TRUE(config->tls);
  EXPECT_EQ(config->tls->files.client_ca_file, certificates_.ca);  // relative to the file
  EXPECT_EQ(config->tls->cert_chain, testing::ReadText(certificates_.server.cert));
  EXPECT_EQ(config->tls->private_key, testing::ReadText(certificates_.server.key));
  EXPECT_EQ(config->tls->client_ca, testing::ReadText(certificates_.ca));
  ASSERT_EQ(config->auth.tokens.size(), 1u);
  EXPECT_EQ(config->auth.tokens[0].name, "crm-app");
  EXPECT_EQ(config->auth.tokens[0].role, Role::kReader);
  EXPECT_FALSE(config->auth.tokens[0].personal_data);
  EXPECT_TRUE(auth::SameHash(config->auth.tokens[0].sha256, auth::HashToken("secret")));
  ASSERT_EQ(config->auth.certificates.size(), 1u);
  EXPECT_EQ(config->auth.certificates[0].value, "frontdesk");
  EXPECT_EQ(config->auth.certificates[0].role, Role::kOperator);
  EXPECT_TRUE(config->auth.certificates[0].personal_data);
}

TEST_F(SecurityConfig, PersonalDataListsReplaceTheirDefaults) {
  auto defaults = Parse("");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_TRUE(defaults->auth.personal_data.IsPersonalType("phone"));
  EXPECT_TRUE(defaults->auth.personal_data.IsPersonalAttribute("customer_name"));
  EXPECT_FALSE(defaults->auth.personal_data.IsPersonalAttribute("amount_fen"));

  auto config = Parse(
      "[api.personal_data]\nidentifier_types = [\"phone\", \"member\"]\n"
      "attributes = [\"owner\"]\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->auth.personal_data.IsPersonalType("member"));
  EXPECT_FALSE(config->auth.personal_data.IsPersonalType("email"));
  EXPECT_TRUE(config->auth.personal_data.IsPersonalAttribute("owner"));
  EXPECT_FALSE(config->auth.personal_data.IsPersonalAttribute("customer_name"));

  EXPECT_EQ(ErrorOf("[api.personal_data]\nattributes = \"owner\"\n"),
            (dir_ / "propbridged.toml").string() +
                ": api.personal_data.attributes: must be an array of strings");
  EXPECT_NE(ErrorOf("[api.personal_data]\nidentifier_types = [\"phone:1\"]\n")
                .find("'phone:1' is not an identifier type"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.personal_data]\nnames = []\n").find("names"), std::string::npos);
}

TEST_F(SecurityConfig, AKeyThatCannotBeReadOrIsNotTheCertificatesStopsTheStartNamingTheFile) {
  std::string missing = (dir_ / "missing.key").string();
  EXPECT_EQ(ErrorOf(Tls(missing)), (dir_ / "propbridged.toml").string() + ": api.tls: key_file " +
                                       missing + " cannot be read: No such file or directory");
  EXPECT_EQ(ErrorOf(Tls(certificates_.other_key)),
            (dir_ / "propbridged.toml").string() + ": api.tls: key_file " +
                certificates_.other_key.string() + " does not belong to the certificate in " +
                certificates_.server.cert.string());
  EXPECT_EQ(ErrorOf(Tls(dir_.path())), (dir_ / "propbridged.toml").string() +
                                           ": api.tls: key_file " + dir_.path().string() +
                                           " is not a regular file");
  // A certificate where the key belongs.
  EXPECT_NE(ErrorOf(Tls(certificates_.server.cert)).find("holds no unencrypted PEM private key"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Tls(certificates_.server.key, "client_ca_file = \"server.key\"\n"))
                .find("client_ca_file " + certificates_.server.key.string() +
                      " holds no PEM certificate"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf("[api.tls]\nkey_file = \"server.key\"\n").find("api.tls.cert_file: is required"),
      std::string::npos);
}

TEST_F(SecurityConfig, CallersNeedARoleAndAHashOrSubject) {
  EXPECT_NE(ErrorOf("[api.auth.tokens.crm]\nrole = \"owner\"\nsha256 = \"" + hash_ + "\"\n")
                .find("api.auth.tokens.crm.role: must be reader, operator or admin, not 'owner'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.auth.tokens.crm]\nsha256 = \"" + hash_ + "\"\n")
                .find("api.auth.tokens.crm.role: is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.auth.tokens.crm]\nrole = \"reader\"\nsha256 = \"secret\"\n")
                .find("api.auth.tokens.crm.sha256: must be the token's SHA-256 in 64 hex digits"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.auth.tokens.a]\nrole = \"reader\"\nsha256 = \"" + hash_ +
                    "\"\n[api.auth.tokens.b]\nrole = \"admin\"\nsha256 = \"" + hash_ + "\"\n")
                .find("api.auth.tokens.b.sha256: is the hash of api.auth.tokens.a too"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.auth.tokens.crm]\nrole = \"reader\"\nsha256 = \"" + hash_ +
                    "\"\ntoken = \"secret\"\n")
                .find("api.auth.tokens.crm.token: unknown key"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Tls(certificates_.server.key, "client_ca_file = \"ca.crt\"\n") +
                    "[api.auth.certificates.desk]\nsubject = \"frontdesk\"\nrole = \"reader\"\n")
                .find("api.auth.certificates.desk.subject: must be CN=<common name>"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[api.auth.certificates.desk]\nsubject = \"CN=frontdesk\"\nrole = \"reader\"\n")
                .find("api.auth.certificates: needs api.tls.client_ca_file"),
            std::string::npos);
}

TEST_F(SecurityConfig, OtherHostsAreServedOnlyWithTlsOrWhenAllowed) {
  std::string error = ErrorOf("", "0.0.0.0:50051");
  EXPECT_NE(error.find("listen: '0.0.0.0:50051' reaches other hosts, but the API has neither TLS "
                       "nor auth"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("allow_insecure_remote = true"), std::string::npos);
  EXPECT_TRUE(Parse("[api]\nallow_insecure_remote = true\n", "0.0.0.0:50051").ok());
  EXPECT_TRUE(Parse(Tls(certificates_.server.key), "[::]:50051").ok());
  // Tokens in clear text across a network, even when allowed.
  EXPECT_NE(ErrorOf("[api]\nallow_insecure_remote = true\n[api.auth.tokens.crm]\nrole = "
                    "\"reader\"\nsha256 = \"" +
                        hash_ + "\"\n",
                    "10.1.2.3:50051")
                .find("[api.auth] without [api.tls] would send its tokens over the network"),
            std::string::npos);
  EXPECT_TRUE(Parse("[api.auth.tokens.crm]\nrole = \"reader\"\nsha256 = \"" + hash_ + "\"\n").ok());
}

TEST(Listen, LoopbackOnly) {
  for (const char* local : {"127.0.0.1:50051", "127.3.4.5:1", "localhost:50051", "[::1]:50051",
                            "[::ffff:127.0.0.1]:1", "unix:/run/propbridge.sock"}) {
    EXPECT_TRUE(config::ServesLoopbackOnly(local)) << local;
  }
  for (const char* remote : {"0.0.0.0:50051", "[::]:50051", "10.0.0.7:50051", "pm.example:1",
                             "128.0.0.1:1", "[::ffff:10.0.0.1]:1"}) {
    EXPECT_FALSE(config::ServesLoopbackOnly(remote)) << remote;
  }
}

}  // namespace
}  // namespace propbridge
