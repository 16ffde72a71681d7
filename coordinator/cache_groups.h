// The scheduler's cache groups (DESIGN.md "Scheduling"): tasks whose
// stable prompt prefix and model are identical share one provider cache
// entry, keyed by the prefix key. A group is
//   COLD     nothing cached (at first, after its TTL lapsed, or when its
//            seed was lost);
//   SEEDING  one task, the seed, is writing the entry; the group's other
//            ready tasks are held;
//   WARM     the entry is readable until `warm_until` (the provider's TTL
//            after its last use).
// Seeding decisions (whether a group is held at all) are the scheduler's;
// this room keeps each group's state, its seed, its held tasks and how many
// of its tasks are unfinished.
//
// Event-loop-only (not thread-safe); time is passed in. Tasks are the
// scheduler's task indices.
#ifndef KILN_COORDINATOR_CACHE_GROUPS_H_
#define KILN_COORDINATOR_CACHE_GROUPS_H_

#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace kiln {

class CacheGroups {
 public:
  enum class State { kCold, kSeeding, kWarm };

  // A task joins / leaves its group (it finished, or moved to a fallback
  // model's group). Leaving as the seed loses the seed: the held tasks to
  // release are returned.
  void Join(const std::string& key);
  std::vector<int> Leave(const std::string& key, int task);
  // Unfinished tasks of the group.
  int open(const std::string& key) const;

  // The group's state at `now`: a warm group whose TTL lapsed is cold.
  State StateAt(const std::string& key, MonotonicTime now);
  bool IsSeed(const std::string& key, int task) const;

  // `task` waits for the group's seed; Unhold takes it back (adopted).
  void Hold(const std::string& key, int task);
  void Unhold(const std::string& key, int task);
  // `seed` writes the group's entry now.
  void StartSeeding(const std::string& key, int seed);
  // The entry is cached: warm until `until`; returns the held tasks.
  std::vector<int> MakeWarm(const std::string& key, MonotonicTime until);
  // A use of a warm group refreshes its TTL (no-op unless warm).
  void Touch(const std::string& key, MonotonicTime until);
  // `task`, if it is the seed, failed or went back to the queue: the group
  // is cold again (the next dispatch picks a new seed); returns the held
  // tasks to release (none unless `task` was the seed).
  std::vector<int> SeedLost(const std::string& key, int task);

 private:
  struct Group {
    State state = State::kCold;
    int seed = -1;
    MonotonicTime warm_until;
    std::vector<int> held;
    int open = 0;
  };
  std::unordered_map<std::string, Group> groups_;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_CACHE_GROUPS_H_
