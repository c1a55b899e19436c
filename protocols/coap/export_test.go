package coap

// ResponseCacheSize is the per-connection bound of the response cache, for the black-box
// tests.
const ResponseCacheSize = responseCacheSize
