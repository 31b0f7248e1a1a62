"""Sign-language recognition: AIHub-format data (synthetic or real), video classifiers on clips."""
