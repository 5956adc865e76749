# Interrupts (issue 3): IRQ lines, softints, lowipl, and the signal that carries them.
target_sources(smplock PRIVATE
  ${PROJECT_SOURCE_DIR}/src/irq_lowipl.cpp
  ${PROJECT_SOURCE_DIR}/src/irq_signal.cpp)
