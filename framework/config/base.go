package config

// Base returns c. An application's config type that embeds Config gets it
// promoted, so code generic over that type (framework/cli) reaches the
// framework's part.
func (c *Config) Base() *Config { return c }
