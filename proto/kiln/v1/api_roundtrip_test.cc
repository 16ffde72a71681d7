// Every top-level message of the kiln.v1 API survives a round trip through
// its binary and JSON forms with every field set.

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/blob.pb.h"
#include "kiln/v1/blob_service.grpc.pb.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "kiln/v1/semaphore_service.grpc.pb.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "kiln/v1/worker_service.grpc.pb.h"

namespace kiln {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::MessageFactory;
using google::protobuf::Reflection;

const char* const kApiFiles[] = {
    "kiln/v1/batch.proto",           "kiln/v1/blob.proto",
    "kiln/v1/blob_service.proto",    "kiln/v1/job_service.proto",
    "kiln/v1/semaphore_service.proto", "kiln/v1/spec.proto",
    "kiln/v1/task.proto",            "kiln/v1/worker_service.proto",
};

constexpr int kMaxDepth = 4;

void Fill(Message* msg, int depth, int seed);

// Sets one value of `field` (appending when repeated); `n` varies the value.
void SetValue(Message* msg, const FieldDescriptor* field, int depth, int n) {
  const Reflection* r = msg->GetReflection();
  const bool rep = field->is_repeated();
  const std::string s = field->name() + "-" + std::to_string(n) + "-\xc3\xa9";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      rep ? r->AddInt32(msg, field, -7 - n) : r->SetInt32(msg, field, -7 - n);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      rep ? r->AddInt64(msg, field, (int64_t{1} << 40) + n)
          : r->SetInt64(msg, field, (int64_t{1} << 40) + n);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      rep ? r->AddUInt32(msg, field, 7 + n) : r->SetUInt32(msg, field, 7 + n);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      rep ? r->AddUInt64(msg, field, 9 + n) : r->SetUInt64(msg, field, 9 + n);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      rep ? r->AddDouble(msg, field, 0.25 + n)
          : r->SetDouble(msg, field, 0.25 + n);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      rep ? r->AddFloat(msg, field, 0.5f + n) : r->SetFloat(msg, field, 0.5f + n);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      rep ? r->AddBool(msg, field, true) : r->SetBool(msg, field, true);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = field->enum_type();
      const auto* v = e->value(e->value_count() > 1 ? 1 + n % (e->value_count() - 1) : 0);
      rep ? r->AddEnum(msg, field, v) : r->SetEnum(msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = s;
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        v = std::string("\0\xff\x01", 3) + s;
      }
      rep ? r->AddString(msg, field, v) : r->SetString(msg, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* sub = rep ? r->AddMessage(msg, field) : r->MutableMessage(msg, field);
      Fill(sub, depth + 1, n);
      break;
    }
  }
}

// Sets every field of `msg`: singular fields once, repeated and map fields
// twice (distinct map keys). Well-known types get values valid in JSON.
void Fill(Message* msg, int depth, int seed) {
  const Descriptor* d = msg->GetDescriptor();
  const Reflection* r = msg->GetReflection();
  if (d->full_name() == "google.protobuf.Timestamp") {
    r->SetInt64(msg, d->FindFieldByName("seconds"), 1700000000 + seed);
    r->SetInt32(msg, d->FindFieldByName("nanos"), 125000000);
    return;
  }
  if (d->full_name() == "google.protobuf.Duration") {
    r->SetInt64(msg, d->FindFieldByName("seconds"), 42 + seed);
    r->SetInt32(msg, d->FindFieldByName("nanos"), 500000000);
    return;
  }
  if (depth > kMaxDepth) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const int copies = f->is_repeated() ? 2 : 1;
    for (int n = 0; n < copies; ++n) SetValue(msg, f, depth, seed + n);
  }
}

std::vector<const Descriptor*> TopLevelMessages() {
  std::vector<const Descriptor*> out;
  for (const char* name : kApiFiles) {
    const FileDescriptor* file =
        DescriptorPool::generated_pool()->FindFileByName(name);
    EXPECT_NE(file, nullptr) << name;
    if (file == nullptr) continue;
    for (int i = 0; i < file->message_type_count(); ++i) {
      out.push_back(file->message_type(i));
    }
  }
  return out;
}

TEST(ApiRoundTrip, EveryTopLevelMessageThroughBinaryAndJson) {
  const auto messages = TopLevelMessages();
  ASSERT_GT(messages.size(), 50u);
  for (const Descriptor* d : messages) {
    SCOPED_TRACE(d->full_name());
    const Message* prototype =
        MessageFactory::generated_factory()->GetPrototype(d);
    ASSERT_NE(prototype, nullptr);
    std::unique_ptr<Message> original(prototype->New());
    Fill(original.get(), 0, 0);
    if (d->field_count() > 0) {
      ASSERT_GT(original->ByteSizeLong(), 0u);
    }

    std::string wire;
    ASSERT_TRUE(original->SerializeToString(&wire));
    std::unique_ptr<Message> from_wire(prototype->New());
    ASSERT_TRUE(from_wire->ParseFromString(wire));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        *original, *from_wire));

    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*original, &json).ok());
    std::unique_ptr<Message> from_json(prototype->New());
    const auto status =
        google::protobuf::util::JsonStringToMessage(json, from_json.get());
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << json;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        *original, *from_json))
        << json;
  }
}

TEST(ApiRoundTrip, JsonUsesCamelCaseAndIgnoresUnknownFieldsWhenAsked) {
  kiln::v1::FileSpec file;
  file.set_path("web/renderer.go");
  file.set_expected_tokens(1750);
  file.add_deps("web/input.go");
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(file, &json).ok());
  EXPECT_NE(json.find("\"expectedTokens\":1750"), std::string::npos) << json;

  // A newer client may send fields this build does not know.
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  kiln::v1::FileSpec parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"path":"a.js","futureField":3})", &parsed, lenient)
                  .ok());
  EXPECT_EQ(parsed.path(), "a.js");
}

TEST(ApiRoundTrip, ServicesExposeTheDesignedMethods) {
  const auto* pool = DescriptorPool::generated_pool();
  struct Expect {
    const char* service;
    std::vector<const char*> methods;
  };
  const Expect expected[] = {
      {"kiln.v1.JobService",
       {"SubmitBatch", "GetBatch", "ListBatches", "ListTasks", "WatchBatch",
        "CancelBatch", "FetchArtifacts", "GetReport"}},
      {"kiln.v1.WorkerService", {"Session"}},
      {"kiln.v1.SemaphoreService",
       {"Acquire", "Renew", "Release", "DescribeSemaphore"}},
      {"kiln.v1.BlobService", {"FindMissingBlobs", "ReadBlob", "WriteBlob"}},
  };
  for (const auto& e : expected) {
    const auto* service = pool->FindServiceByName(e.service);
    ASSERT_NE(service, nullptr) << e.service;
    EXPECT_EQ(service->method_count(), static_cast<int>(e.methods.size()));
    for (const char* m : e.methods) {
      EXPECT_NE(service->FindMethodByName(m), nullptr) << e.service << "." << m;
    }
  }
  const auto* session =
      pool->FindMethodByName("kiln.v1.WorkerService.Session");
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(session->client_streaming());
  EXPECT_TRUE(session->server_streaming());
  EXPECT_TRUE(pool->FindMethodByName("kiln.v1.JobService.WatchBatch")
                  ->server_streaming());
}

}  // namespace
}  // namespace kiln
