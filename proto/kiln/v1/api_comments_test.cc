// The API's comments are its contract: every message, field, enum, service
// and RPC in kiln/v1 must have one (leading or trailing). Reads the
// descriptor set that protoc wrote with --include_source_info.

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using google::protobuf::DescriptorProto;
using google::protobuf::EnumDescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;

// Field numbers in descriptor.proto, as used by SourceCodeInfo paths.
constexpr int kFileMessageType = 4;
constexpr int kFileEnumType = 5;
constexpr int kFileService = 6;
constexpr int kMessageField = 2;
constexpr int kMessageNested = 3;
constexpr int kMessageEnum = 4;
constexpr int kServiceMethod = 2;

using Path = std::vector<int>;

class CommentIndex {
 public:
  explicit CommentIndex(const FileDescriptorProto& file) {
    for (const auto& loc : file.source_code_info().location()) {
      if (!loc.leading_comments().empty() || !loc.trailing_comments().empty()) {
        commented_.insert(Path(loc.path().begin(), loc.path().end()));
      }
    }
  }
  bool Has(const Path& p) const { return commented_.count(p) > 0; }

 private:
  std::set<Path> commented_;
};

Path Append(Path p, int a, int b) {
  p.push_back(a);
  p.push_back(b);
  return p;
}

void CheckEnum(const CommentIndex& idx, const EnumDescriptorProto& e,
               const Path& path, const std::string& scope,
               std::vector<std::string>* missing) {
  if (!idx.Has(path)) missing->push_back("enum " + scope + e.name());
}

void CheckMessage(const CommentIndex& idx, const DescriptorProto& m,
                  const Path& path, const std::string& scope,
                  std::vector<std::string>* missing) {
  const std::string name = scope + m.name();
  if (m.options().map_entry()) return;  // synthesized for map<,> fields
  if (!idx.Has(path)) missing->push_back("message " + name);
  for (int i = 0; i < m.field_size(); ++i) {
    if (!idx.Has(Append(path, kMessageField, i))) {
      missing->push_back("field " + name + "." + m.field(i).name());
    }
  }
  for (int i = 0; i < m.nested_type_size(); ++i) {
    CheckMessage(idx, m.nested_type(i), Append(path, kMessageNested, i),
                 name + ".", missing);
  }
  for (int i = 0; i < m.enum_type_size(); ++i) {
    CheckEnum(idx, m.enum_type(i), Append(path, kMessageEnum, i), name + ".",
              missing);
  }
}

TEST(ApiComments, EveryDeclarationIsCommented) {
  std::ifstream in("proto/kiln/v1/kiln_cc_proto.descriptor_set.pb",
                   std::ios::binary);
  ASSERT_TRUE(in.good());
  std::stringstream bytes;
  bytes << in.rdbuf();
  FileDescriptorSet set;
  ASSERT_TRUE(set.ParseFromString(bytes.str()));

  std::vector<std::string> missing;
  int files = 0;
  for (const FileDescriptorProto& file : set.file()) {
    if (file.package() != "kiln.v1") continue;
    ++files;
    const CommentIndex idx(file);
    const std::string scope = file.name() + ": ";
    for (int i = 0; i < file.message_type_size(); ++i) {
      CheckMessage(idx, file.message_type(i), {kFileMessageType, i}, scope,
                   &missing);
    }
    for (int i = 0; i < file.enum_type_size(); ++i) {
      CheckEnum(idx, file.enum_type(i), {kFileEnumType, i}, scope, &missing);
    }
    for (int i = 0; i < file.service_size(); ++i) {
      const auto& s = file.service(i);
      if (!idx.Has({kFileService, i})) {
        missing.push_back("service " + scope + s.name());
      }
      for (int j = 0; j < s.method_size(); ++j) {
        if (!idx.Has({kFileService, i, kServiceMethod, j})) {
          missing.push_back("rpc " + scope + s.name() + "." +
                            s.method(j).name());
        }
      }
    }
  }
  EXPECT_EQ(files, 9);  // the API files and store.proto
  std::string list;
  for (const auto& m : missing) list += "  " + m + "\n";
  EXPECT_TRUE(missing.empty()) << missing.size() << " without a comment:\n"
                               << list;
}

}  // namespace
}  // namespace kiln
