// `smplock levels --infer TRACE.json [TRACE.json...] [--json F] [--svg F] [--table F] [--header F]`:
// merges traces written by `smplock record`, prints the potential deadlocks, the proposed level
// table and the seed's two judgements, and writes the other forms to files ("-" for stdout, which
// then replaces the text). A trace that is missing, a directory, not JSON or not a trace of a
// version this smplock reads is an error with exit status 2, like a bad argument.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "levels_infer.hpp"
#include "smplock/infer.hpp"

namespace smplock::tools {
namespace {

struct InferArgs {
  std::vector<std::string> traces;
  std::string json, svg, table, header;
  bool verbose = false;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "smplock levels: %s\n", what.c_str());
  std::exit(2);
}

void write(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) fail("cannot write '" + path + "'");
  const bool written = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  if (std::fclose(out) != 0 || !written) fail("cannot write '" + path + "'");
}

void run(const InferArgs& args) {
  std::vector<infer::Graph> graphs;
  for (const std::string& path : args.traces) {
    try {
      graphs.push_back(infer::load_trace(path));
    } catch (const infer::TraceError& e) {
      fail(e.what());
    }
  }
  const infer::Graph g = infer::merge(graphs);
  const infer::Result r = infer::analyze(g);
  const bool to_stdout = args.json == "-" || args.svg == "-" || args.table == "-" || args.header == "-";
  if (!to_stdout)
    infer::write_text(g, r, [](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }, args.verbose);
  if (!args.json.empty()) write(args.json, infer::to_json(g, r));
  if (!args.table.empty()) write(args.table, infer::to_table(g, r));
  if (!args.svg.empty()) write(args.svg, infer::to_svg(g, r));
  if (!args.header.empty()) write(args.header, infer::to_header(g, r));
}

}  // namespace

std::function<bool()> add_levels_infer(CLI::App& levels) {
  auto args = std::make_shared<InferArgs>();
  auto* infer = levels.add_option("--infer", args->traces,
                                  "Propose a level table from traces written by `smplock record` (several are merged)")
                    ->type_name("TRACE.json...")
                    ->expected(1, -1);
  if (auto* irq = levels.get_option_no_throw("--irq")) infer->excludes(irq);
  const auto file = [&](const char* name, std::string& into, const char* what) {
    levels.add_option(name, into, what)->type_name("FILE")->needs(infer)->check([](const std::string& v) {
      return v.empty() ? std::string("needs a file name") : std::string();
    });
  };
  file("--json", args->json, "With --infer: write everything found as JSON (- for stdout)");
  file("--table", args->table, "With --infer: write the level table `smplock enforce --levels` reads (- for stdout)");
  file("--svg", args->svg, "With --infer: draw the order graph in its levels as SVG (- for stdout)");
  file("--header", args->header, "With --infer: write a C++ header with one smplock::Level per class (- for stdout)");
  levels.add_flag("--verbose,-v", args->verbose, "With --infer: every cycle with full stacks, every class")->needs(infer);
  return [args] {
    if (args->traces.empty()) return false;
    run(*args);
    return true;
  };
}

}  // namespace smplock::tools
