#include "cli/settings.h"

#include <fstream>
#include <map>

#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const std::string& n) -> const char* {
      auto it = vars.find(n);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Args Flags(std::map<std::string, std::string> values) {
  Args a;
  a.values = std::move(values);
  return a;
}

TEST(Settings, FlagBeatsEnvBeatsFileBeatsDefault) {
  const std::string dir = FreshTestDir("settings_precedence");
  std::ofstream(dir + "/config.yaml") << "workers: 5\nllm_slots: 7\nprovider: openai\n"
                                      << "base_url: http://file\n";
  Env env{{{"KILN_CONFIG", dir + "/config.yaml"},
           {"KILN_LLM_SLOTS", "9"},
           {"KILN_BASE_URL", "http://env"}}};
  auto s = Settings::Resolve(Flags({{"base_url", "http://flag"}}), env.lookup());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Get("base_url"), "http://flag");
  EXPECT_EQ(s->Source("base_url"), "flag --base_url");
  EXPECT_EQ(s->Int("llm_slots"), 9);
  EXPECT_EQ(s->Source("llm_slots"), "env KILN_LLM_SLOTS");
  EXPECT_EQ(s->Int("workers"), 5);
  EXPECT_EQ(s->Source("workers"), "config " + dir + "/config.yaml:1");
  EXPECT_EQ(s->Get("provider"), "openai");
  EXPECT_EQ(s->Get("sandbox"), "bwrap");
  EXPECT_EQ(s->Source("sandbox"), "default");
  EXPECT_EQ(s->config_file(), dir + "/config.yaml");
}

TEST(Settings, UserConfigIsOptionalButAnExplicitOneMustExist) {
  const std::string dir = FreshTestDir("settings_optional");
  Env env{{{"HOME", dir}}};
  auto s = Settings::Resolve(Flags({}), env.lookup());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->config_file(), "");
  auto missing = Settings::Resolve(Flags({{"config", dir + "/nope.yaml"}}), env.lookup());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "config file " + dir + "/nope.yaml cannot be read");
  std::filesystem::create_directories(dir + "/.config/kiln");
  std::ofstream(dir + "/.config/kiln/config.yaml") << "workers: 3\n";
  auto home = Settings::Resolve(Flags({}), env.lookup());
  ASSERT_TRUE(home.ok()) << home.status();
  EXPECT_EQ(home->Int("workers"), 3);
}

TEST(Settings, ProblemsNameTheirSource) {
  const std::string dir = FreshTestDir("settings_problems");
  std::ofstream(dir + "/c.yaml") << "# kiln config\nworkrs: 3\nsandbox: docker\n";
  Env env{{{"KILN_TIME_SCALE", "fast"}}};
  auto s = Settings::Resolve(Flags({{"config", dir + "/c.yaml"}, {"workers", "0"}}),
                             env.lookup());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            dir + "/c.yaml:2:1: workrs: unknown setting 'workrs' (did you mean 'workers'?)\n" +
                dir + "/c.yaml:3:10: sandbox: want one of bwrap, none, got \"docker\"\n" +
                "--workers: want an integer from 1 to 64, got \"0\"\n" +
                "KILN_TIME_SCALE: want a number from 0.001 to 100000, got \"fast\"");
}

TEST(Settings, EveryOptionHasHelpAndAnEnvName) {
  for (const Option& o : SettingOptions()) {
    EXPECT_FALSE(o.help.empty()) << o.name;
    if (o.name != "config") {
      EXPECT_NE(o.help.find("env KILN_"), std::string::npos) << o.name;
    }
  }
}

}  // namespace
}  // namespace cli
}  // namespace kiln
