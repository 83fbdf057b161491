// Placeholder translation unit until the sources land.
