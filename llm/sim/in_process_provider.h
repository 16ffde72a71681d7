// The `sim` provider: the simulated model in-process (the embedded default).
// Streams real code with the latency, caching, limits and faults of the
// model's profile, at `time_scale` times real speed, retried like a real
// provider (CallDriver).
#ifndef KILN_LLM_SIM_IN_PROCESS_PROVIDER_H_
#define KILN_LLM_SIM_IN_PROCESS_PROVIDER_H_

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/timer_loop.h"
#include "llm/call_driver.h"
#include "llm/provider.h"
#include "llm/sim/simulated_model.h"

namespace kiln {

struct SimProviderOptions {
  SimOptions sim;
  // Simulated seconds per real second (10: a 30 s request takes 3 s).
  double time_scale = 1;
  // Timeouts here are real time.
  RetryPolicy retry;
};

class SimProvider : public Provider {
 public:
  // `models` is not owned. `clock` (not owned) is the real clock the time
  // scale applies to.
  SimProvider(const ModelCatalog* models, SimProviderOptions options,
              Clock* clock = RealClock());
  ~SimProvider() override;

  std::string name() const override { return "sim"; }
  std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt& prompt,
                                 StreamCallbacks callbacks) override;

 private:
  class SimAttempt;
  MonotonicTime SimNow() const;
  absl::Duration ToReal(absl::Duration simulated) const;

  const SimProviderOptions options_;
  Clock* const clock_;
  const MonotonicTime origin_;
  SimulatedModel llm_;
  TimerLoop loop_;
};

}  // namespace kiln

#endif  // KILN_LLM_SIM_IN_PROCESS_PROVIDER_H_
