# The web UI and chat history, compiled into sb_server (included from
# src/server/CMakeLists.txt). The page's files under webui/ are embedded by
# a small host tool (webui/embed.c) into a generated C source: no xxd, no
# download, nothing read at run time.
set(SB_WEBUI_DIR ${CMAKE_SOURCE_DIR}/webui)
file(GLOB SB_WEBUI_FILES CONFIGURE_DEPENDS
  ${SB_WEBUI_DIR}/index.html ${SB_WEBUI_DIR}/*.css ${SB_WEBUI_DIR}/*.svg ${SB_WEBUI_DIR}/js/*.js)
list(SORT SB_WEBUI_FILES)

add_executable(sb_webui_embed ${SB_WEBUI_DIR}/embed.c)
set(SB_WEBUI_GEN ${CMAKE_CURRENT_BINARY_DIR}/webui_assets_gen.c)
set(SB_WEBUI_ARGS)
foreach(f IN LISTS SB_WEBUI_FILES)
  file(RELATIVE_PATH rel ${SB_WEBUI_DIR} ${f})
  if(rel STREQUAL "index.html")
    list(APPEND SB_WEBUI_ARGS "/=${f}")
  else()
    list(APPEND SB_WEBUI_ARGS "/ui/${rel}=${f}")
  endif()
endforeach()
add_custom_command(OUTPUT ${SB_WEBUI_GEN}
  COMMAND sb_webui_embed ${SB_WEBUI_GEN} ${SB_WEBUI_ARGS}
  DEPENDS sb_webui_embed ${SB_WEBUI_FILES}
  COMMENT "Embedding the web UI (${SB_WEBUI_DIR})"
  VERBATIM)

target_sources(sb_server PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/webui.c ${CMAKE_CURRENT_SOURCE_DIR}/webui_datadir.c
  ${CMAKE_CURRENT_SOURCE_DIR}/webui_models.c ${CMAKE_CURRENT_SOURCE_DIR}/history.c
  ${CMAKE_CURRENT_SOURCE_DIR}/history_msg.c ${CMAKE_CURRENT_SOURCE_DIR}/history_query.c
  ${CMAKE_CURRENT_SOURCE_DIR}/history_json.c ${CMAKE_CURRENT_SOURCE_DIR}/history_api.c
  ${SB_WEBUI_GEN})
target_link_libraries(sb_server PUBLIC sb_gguf PkgConfig::SQLITE3)
