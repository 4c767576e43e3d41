package client

import "strconv"

// AppendGet appends "get <key>\r\n".
func AppendGet(dst, key []byte) []byte {
	dst = append(dst, "get "...)
	dst = append(dst, key...)
	return append(dst, "\r\n"...)
}

// AppendSet appends "set <key> <flags> <exptime> <bytes>\r\n<value>\r\n".
func AppendSet(dst, key []byte, flags uint32, exptime int64, value []byte) []byte {
	dst = append(dst, "set "...)
	dst = appendStorageHeader(dst, key, flags, exptime, len(value))
	dst = append(dst, "\r\n"...)
	return appendData(dst, value)
}

// AppendDelete appends "delete <key>\r\n".
func AppendDelete(dst, key []byte) []byte {
	dst = append(dst, "delete "...)
	dst = append(dst, key...)
	return append(dst, "\r\n"...)
}

// AppendGetv appends "getv <key>\r\n".
func AppendGetv(dst, key []byte) []byte {
	dst = append(dst, "getv "...)
	dst = append(dst, key...)
	return append(dst, "\r\n"...)
}

// AppendPutv appends "putv <key> <flags> <exptime> <bytes> <context|->\r\n<value>\r\n".
// An empty context is sent as "-".
func AppendPutv(dst, key []byte, flags uint32, exptime int64, value, context []byte) []byte {
	dst = append(dst, "putv "...)
	dst = appendStorageHeader(dst, key, flags, exptime, len(value))
	dst = append(dst, ' ')
	if len(context) == 0 {
		dst = append(dst, '-')
	} else {
		dst = append(dst, context...)
	}
	dst = append(dst, "\r\n"...)
	return appendData(dst, value)
}

func appendStorageHeader(dst, key []byte, flags uint32, exptime int64, n int) []byte {
	dst = append(dst, key...)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(flags), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, exptime, 10)
	dst = append(dst, ' ')
	return strconv.AppendInt(dst, int64(n), 10)
}

func appendData(dst, value []byte) []byte {
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
