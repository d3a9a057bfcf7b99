// Reading a protobuf message in wire format without its schema, for tests that speak a
// service through raw bytes (server reflection).
#pragma once

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace propbridge::testing {

// The length-delimited fields `number` of a message in wire format.
inline std::vector<std::string> LengthDelimitedFields(const std::string& bytes, int number) {
  google::protobuf::UnknownFieldSet fields;
  EXPECT_TRUE(fields.ParseFromString(bytes));
  std::vector<std::string> values;
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == number &&
        fields.field(i).type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      values.push_back(fields.field(i).length_delimited());
    }
  }
  return values;
}

}  // namespace propbridge::testing
