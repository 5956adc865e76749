// Uses the report library (smplock/report.hpp, smplock::report) from an installed smplock: takes a
// lock, reads the counters, and turns them into the text table, JSON read back, and an SVG.
#include <smplock/report.hpp>
#include <smplock/smplock.hpp>

#include <cstdio>
#include <string>

int main() {
  static constinit smplock::Lock ledger{smplock::Level::PS, "consumer-ledger"};
  for (int i = 0; i < 3; ++i) smplock::Guard g(ledger);
  smplock::stats::Snapshot snap = smplock::stats::snapshot();
  const smplock::stats::ClassStats* cls = snap.find("consumer-ledger", smplock::Level::PS);
  if (cls == nullptr || cls->counters.acquisitions < 3) {
    std::printf("consumer_report: the ledger's class was not counted\n");
    return 1;
  }
  smplock::stats::symbolize(snap);
  std::string text;
  smplock::stats::report_text(snap, [&](std::string_view s) { text += s; });
  const smplock::stats::Snapshot back = smplock::stats::from_json(smplock::stats::to_json(snap));
  const std::string svg = smplock::stats::to_svg(snap);
  if (text.find("consumer-ledger") == std::string::npos || back.find("consumer-ledger", smplock::Level::PS) == nullptr ||
      svg.find("<svg") == std::string::npos) {
    std::printf("consumer_report: the report lacks the ledger\n%s", text.c_str());
    return 1;
  }
  std::printf("consumer_report ok: %zu bytes of table, %zu of SVG\n", text.size(), svg.size());
  return 0;
}
