DROP TABLE {{ table }};
