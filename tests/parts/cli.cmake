# tests/parts/cli.cmake: the smplock command's answers to bad input (issue 15, part 3). Each test
# runs the built `smplock` through tests/cli/expect.sh, which checks the exit status and the
# message together. Tests that must not reach a run give --seconds 600 and a short timeout, so a
# check that comes too late shows as a timeout rather than a pass.
if(NOT TARGET smplock-cli)
  return()
endif()

set(SMPLOCK_CLI_EXPECT ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh)

# smplock_cli_test(NAME STATUS REGEX ARG...): `smplock ARG...` exits with STATUS, output matches REGEX.
function(smplock_cli_test name status regex)
  add_test(NAME cli_${name} COMMAND ${SMPLOCK_CLI_EXPECT} ${status} ${regex} $<TARGET_FILE:smplock-cli> ${ARGN})
  set_tests_properties(cli_${name} PROPERTIES LABELS "unit;cli" TIMEOUT 60)
endfunction()

# Top level: the version from CMake, and the unknown word named.
smplock_cli_test(version 0 "^smplock ${PROJECT_VERSION}$" --version)
smplock_cli_test(unknown_option 2 "unknown option '--bogus'" --bogus)
smplock_cli_test(unknown_subcommand 2 "unknown subcommand 'frob'.*pound" frob)
smplock_cli_test(unknown_subcommand_option 2 "--bogus" levels --bogus)

# report: the budget is a percentage in (0, 100], the file a file.
smplock_cli_test(report_budget_zero 2 "--budget: must be a percentage above 0 and at most 100, not '0'"
                 report --budget 0 ${PROJECT_SOURCE_DIR}/README.md)
smplock_cli_test(report_budget_negative 2 "--budget: must be a percentage above 0 and at most 100, not '-1'"
                 report --budget=-1 ${PROJECT_SOURCE_DIR}/README.md)
smplock_cli_test(report_budget_text 2 "--budget: must be a percentage above 0 and at most 100, not 'abc'"
                 report --budget abc ${PROJECT_SOURCE_DIR}/README.md)
smplock_cli_test(report_budget_nan 2 "--budget: must be a percentage.*not 'nan'"
                 report --budget nan ${PROJECT_SOURCE_DIR}/README.md)
smplock_cli_test(report_directory 2 "'${CMAKE_CURRENT_SOURCE_DIR}' is a directory" report ${CMAKE_CURRENT_SOURCE_DIR})
smplock_cli_test(report_missing 2 "cannot read '.*no-such-file.json': No such file"
                 report ${CMAKE_CURRENT_BINARY_DIR}/no-such-file.json)
# (An empty argument is dropped from a list, so those tests are spelt out.)
add_test(NAME cli_report_empty_name
         COMMAND ${SMPLOCK_CLI_EXPECT} 2 "needs a file name" $<TARGET_FILE:smplock-cli> report "")
add_test(NAME cli_report_svg_empty_name COMMAND ${SMPLOCK_CLI_EXPECT} 2 "--svg: needs a file name"
         $<TARGET_FILE:smplock-cli> report ${PROJECT_SOURCE_DIR}/README.md --svg "")
set_tests_properties(cli_report_empty_name cli_report_svg_empty_name PROPERTIES LABELS "unit;cli" TIMEOUT 60)
add_test(NAME cli_report_zero_cpus COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/zero_cpus.sh $<TARGET_FILE:smplock-cli>)
set_tests_properties(cli_report_zero_cpus PROPERTIES LABELS "unit;cli" TIMEOUT 120)

# pound: --help states each range as the message does; nothing bad reaches a run.
smplock_cli_test(pound_help_seconds 0 "--seconds .*in \\[0.01, 600\\]" pound --help)
smplock_cli_test(pound_help_seconds_text 0 "Seconds per .*0.01 to 600" pound --help)
smplock_cli_test(pound_seconds_nan 2 "--seconds: must be a number of seconds from 0.01 to 600, not 'nan'"
                 pound --seconds nan)
smplock_cli_test(pound_seconds_inf 2 "--seconds: must be a number of seconds from 0.01 to 600, not 'inf'"
                 pound --seconds inf)
smplock_cli_test(pound_seconds_small 2 "--seconds: must be a number of seconds from 0.01 to 600, not '0.001'"
                 pound --seconds 0.001)
smplock_cli_test(pound_seed_negative 2 "--seed: must be a whole number from 0 to 18446744073709551615, not '-1'"
                 pound --seconds 600 --seed=-1)
smplock_cli_test(pound_seed_too_big 2 "--seed: must be a whole number .* not '18446744073709551616'"
                 pound --seconds 600 --seed 18446744073709551616)
smplock_cli_test(pound_cpus_negative 2 "--cpus: must be a whole number of CPUs from 1 to 254, not '-1'"
                 pound --seconds 600 --cpus=-1)
add_test(NAME cli_pound_json_empty COMMAND ${SMPLOCK_CLI_EXPECT} 2 "--json: needs a file name"
         $<TARGET_FILE:smplock-cli> pound --seconds 600 --json "")
set_tests_properties(cli_pound_json_empty PROPERTIES LABELS "unit;cli" TIMEOUT 60)
smplock_cli_test(pound_json_directory 2 "cannot write '${CMAKE_CURRENT_SOURCE_DIR}': is a directory"
                 pound --seconds 600 --json ${CMAKE_CURRENT_SOURCE_DIR})
smplock_cli_test(pound_json_unwritable 2 "cannot write '.*no-such-dir/out.json': No such file"
                 pound --seconds 600 --json ${CMAKE_CURRENT_BINARY_DIR}/no-such-dir/out.json)
# A short run says how long it runs (0.01 s in 5 rounds: "0.002 s" a round), never "0.00 s".
smplock_cli_test(pound_seconds_shown 0 "rounds of 0\\.002 s a step"
                 pound --seconds 0.01 --rounds 5 --cpus 1 --locks giant)
smplock_cli_test(pound_seconds_not_rounded 0 "! 0\\.0+ s"
                 pound --seconds 0.01 --rounds 5 --cpus 1 --locks giant)
