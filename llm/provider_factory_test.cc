#include "llm/provider_factory.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(MakeProvider, SimIsTheDefault) {
  const ModelCatalog models = ModelCatalog::Builtin();
  absl::StatusOr<std::unique_ptr<Provider>> p = MakeProvider(ProviderConfig(), &models);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->name(), "sim");
}

TEST(MakeProvider, PublicEndpointsNeedAKey) {
  const ModelCatalog models = ModelCatalog::Builtin();
  unsetenv("OPENAI_API_KEY");
  ProviderConfig c;
  c.kind = "openai";
  const absl::Status s = MakeProvider(c, &models).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(s.message(), "OPENAI_API_KEY")) << s;

  setenv("MY_ANTHROPIC_KEY", "sk-ant-xyz", 1);
  c.kind = "anthropic";
  c.api_key_env = "MY_ANTHROPIC_KEY";
  absl::StatusOr<std::unique_ptr<Provider>> p = MakeProvider(c, &models);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->name(), "anthropic");
}

TEST(MakeProvider, ALocalServerMayNeedNoKey) {
  const ModelCatalog models = ModelCatalog::Builtin();
  unsetenv("OPENAI_API_KEY");
  ProviderConfig c;
  c.kind = "openai";
  c.base_url = "http://127.0.0.1:11434/v1";
  EXPECT_TRUE(MakeProvider(c, &models).ok());
}

TEST(MakeProvider, UnknownKindNamesTheChoices) {
  const ModelCatalog models = ModelCatalog::Builtin();
  ProviderConfig c;
  c.kind = "gemini";
  EXPECT_EQ(MakeProvider(c, &models).status().message(),
            "provider: unknown \"gemini\" (one of sim, openai, anthropic)");
}

}  // namespace
}  // namespace kiln
