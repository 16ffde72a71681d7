#include "coordinator/cache_groups.h"

#include <algorithm>

namespace kiln {

void CacheGroups::Join(const std::string& key) { groups_[key].open++; }

std::vector<int> CacheGroups::Leave(const std::string& key, int task) {
  Group& g = groups_[key];
  g.open--;
  return SeedLost(key, task);
}

int CacheGroups::open(const std::string& key) const {
  auto it = groups_.find(key);
  return it == groups_.end() ? 0 : it->second.open;
}

CacheGroups::State CacheGroups::StateAt(const std::string& key, MonotonicTime now) {
  Group& g = groups_[key];
  if (g.state == State::kWarm && now >= g.warm_until) g.state = State::kCold;  // TTL lapsed
  return g.state;
}

bool CacheGroups::IsSeed(const std::string& key, int task) const {
  auto it = groups_.find(key);
  return it != groups_.end() && it->second.seed == task;
}

void CacheGroups::Hold(const std::string& key, int task) { groups_[key].held.push_back(task); }

void CacheGroups::Unhold(const std::string& key, int task) {
  std::vector<int>& held = groups_[key].held;
  held.erase(std::remove(held.begin(), held.end(), task), held.end());
}

void CacheGroups::StartSeeding(const std::string& key, int seed) {
  Group& g = groups_[key];
  g.state = State::kSeeding;
  g.seed = seed;
}

std::vector<int> CacheGroups::MakeWarm(const std::string& key, MonotonicTime until) {
  Group& g = groups_[key];
  g.state = State::kWarm;
  g.seed = -1;
  g.warm_until = until;
  std::vector<int> held;
  held.swap(g.held);
  return held;
}

void CacheGroups::Touch(const std::string& key, MonotonicTime until) {
  Group& g = groups_[key];
  if (g.state == State::kWarm) g.warm_until = until;
}

std::vector<int> CacheGroups::SeedLost(const std::string& key, int task) {
  Group& g = groups_[key];
  if (g.seed != task || task < 0) return {};
  g.seed = -1;
  g.state = State::kCold;
  std::vector<int> held;
  held.swap(g.held);
  return held;
}

}  // namespace kiln
