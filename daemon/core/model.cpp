#include "daemon/core/model.h"

#include "daemon/core/source_health.h"

namespace replywatch {

std::string_view toString(Route r) {
  switch (r) {
    case Route::Internal: return "internal";
    case Route::Agency: return "agency";
    case Route::Unknown: break;
  }
  return "unknown";
}

std::optional<Route> parseRoute(std::string_view s) {
  if (s == "internal") return Route::Internal;
  if (s == "agency") return Route::Agency;
  if (s == "unknown") return Route::Unknown;
  return std::nullopt;
}

std::string_view toString(ErrorReason r) {
  switch (r) {
    case ErrorReason::ParseError: return "parse_error";
    case ErrorReason::MissingField: return "missing_field";
    case ErrorReason::InvalidUtf8: return "invalid_utf8";
    case ErrorReason::InvalidTimestamp: return "invalid_timestamp";
    case ErrorReason::FutureTimestamp: return "future_timestamp";
    case ErrorReason::FieldTooLong: return "field_too_long";
    case ErrorReason::BadFile: return "bad_file";
    case ErrorReason::Http: return "http";
    case ErrorReason::RateLimited: return "rate_limited";
    case ErrorReason::Signature: return "signature";
    case ErrorReason::BadRequest: return "bad_request";
    case ErrorReason::Store: return "store";
    case ErrorReason::Io: return "io";
    case ErrorReason::Auth: return "auth";
    case ErrorReason::ApiError: return "api_error";
    case ErrorReason::TooManyEntries: return "too_many_entries";
    case ErrorReason::kCount: break;
  }
  return "unknown";
}

namespace {

// A message's fields from one of its forms into the other (Message, MessageView).
template <typename To, typename From>
To withFieldsOf(const From& m) {
  To out;
  out.id = m.id;
  out.conversation_id = m.conversation_id;
  out.in_reply_to = m.in_reply_to;
  out.author_id = m.author_id;
  out.author_name = m.author_name;
  out.author_is_brand = m.author_is_brand;
  out.created_at = m.created_at;
  out.text = m.text;
  out.account = m.account;
  out.kind = m.kind;
  return out;
}

}  // namespace

MessageView viewOf(const Message& m) { return withFieldsOf<MessageView>(m); }

Message copyOf(const MessageView& v) { return withFieldsOf<Message>(v); }

}  // namespace replywatch
