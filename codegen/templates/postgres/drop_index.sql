DROP INDEX {{ name }};
