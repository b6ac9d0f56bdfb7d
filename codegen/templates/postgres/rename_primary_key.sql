ALTER TABLE {{ table }} RENAME CONSTRAINT {{ from }} TO {{ to }};
