# psvc_library(name SOURCES... [DEPS ...]) : one static library per product area.
function(psvc_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PSVC_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE psvc_warnings)
endfunction()

# psvc_test(name SOURCES... DEPS... [LABELS ...]) : a GoogleTest binary registered with CTest.
# Label "pg" marks tests that need the local stack (PostgreSQL / NATS).
function(psvc_test name)
  if(NOT PSVC_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main psvc_warnings)
  target_compile_definitions(${name} PRIVATE PSVC_SOURCE_DIR="${PSVC_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()
