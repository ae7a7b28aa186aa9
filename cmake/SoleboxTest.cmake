# sb_add_test(NAME <name> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [LABELS <labels...>] [ARGS <args...>])
#
# Builds one test executable from the sources plus the shared harness and
# registers it with CTest. A test that exits 77 is reported as skipped (used
# when ../shared data is absent). SOLEBOX_SHARED points the test at the data.
function(sb_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${CMAKE_SOURCE_DIR}/tests/harness)
  target_link_libraries(${T_NAME} PRIVATE sb_test_harness ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  set_tests_properties(${T_NAME} PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "SOLEBOX_SHARED_DEFAULT=${SOLEBOX_SHARED_DIR};SOLEBOX_SOURCE_DIR=${CMAKE_SOURCE_DIR};SOLEBOX_BINARY_DIR=${CMAKE_BINARY_DIR}")
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
