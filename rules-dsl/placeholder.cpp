// Placeholder translation unit until the parser lands.
