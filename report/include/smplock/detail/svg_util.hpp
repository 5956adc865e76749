// What every smplock picture shares (the stats report, the order graph of `levels --infer`, pound's
// story): text made safe for XML, and the document around a drawing (XML declaration, an <svg>
// element of the drawing's size, the common styles, a white background). Header-only and private
// to the build: smplock::report, smplock::infer and smplock::pound include it, none installs it,
// so it adds no link between them.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace smplock::svg_util {

// Text for an element or an attribute value: the markup characters as entities, and the control
// characters XML 1.0 does not allow in text left out (a tab stays).
inline std::string escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (const char ch : in) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(ch) >= 0x20 || ch == '\t') out += ch;
    }
  }
  return out;
}

// The whole self-contained document (no scripts, fonts or links). STYLE: the picture's own CSS
// rules, after the shared ones (the text font, .title, .note); DEFS: what goes in <defs> (markers),
// none when empty; BODY: the drawing, over a white background.
inline std::string document(int width, int height, std::string_view style, std::string_view body,
                            std::string_view defs = {}) {
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n"
      "<style>\n"
      "text {{ font-family: sans-serif; font-size: 12px; fill: #222; }}\n"
      ".title {{ font-size: 20px; font-weight: bold; }}\n"
      ".note {{ fill: #555; }}\n",
      width, height);
  svg += style;
  svg += "</style>\n";
  if (!defs.empty()) {
    svg += "<defs>\n";
    svg += defs;
    svg += "</defs>\n";
  }
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += body;
  svg += "</svg>\n";
  return svg;
}

}  // namespace smplock::svg_util
